"""Cross-instance latency and throughput of the Redis hub.

Starts its own redis-server on a free loopback port, runs two RedisHub instances (the sender and
the receiver) in this process, and publishes a bounded number of rows from the sender to several
subscribers of one room on the receiver. Two phases:

- paced: one row every 1/rate seconds; latency without queueing (what a chat user sees);
- burst: rows as fast as the sender can publish; throughput, latency includes queueing.

Both hubs share one event loop and one clock, so latency is publish() to the receiver's
subscriber draining the row. The redis-server is stopped by its own pid at the end.

    python -m benchmarks.bench_hub_redis [--count 20000] [--paced 2000] [--rate 1000] [--subscribers 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script

from benchmarks.cli import within
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import Subscription
from quart_chat.hub.redis import RedisHub
from tests.support.redis_server import RedisServer

MAX_COUNT = 200_000
HTML = "<li id='m-{id}' class='msg'><b>someone@example.com</b> " + "x" * 120 + "</li>"


async def consume(sub: Subscription, sent_at: dict[str, float], latencies: list[float], count: int) -> None:
    got = 0
    while got < count:
        await sub.wait()
        if sub.close_request is not None:
            raise RuntimeError(f"subscriber closed: {sub.close_request}")
        now = time.perf_counter()
        for item in sub.drain(1024):
            if isinstance(item, Broadcast):
                latencies.append(now - sent_at[item.message_id])
                got += 1


async def phase(
    sender: RedisHub, receiver: RedisHub, count: int, subscribers: int, rate: float | None
) -> dict[str, Any]:
    room = f"bench-{'paced' if rate else 'burst'}"
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    async with AsyncExitStack() as stack:
        subs = [await stack.enter_async_context(receiver.subscribe(room)) for _ in range(subscribers)]
        consumers = [asyncio.create_task(consume(s, sent_at, latencies, count)) for s in subs]
        try:
            started = time.perf_counter()
            for n in range(count):
                mid = f"{room}-{n}"
                sent_at[mid] = time.perf_counter()
                await sender.publish(Broadcast(room, mid, f"{n:017d}-{mid}", HTML.format(id=mid)))
                if rate:
                    await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
                elif n % 100 == 99:
                    await asyncio.sleep(0)  # let the publisher and reader tasks run
            async with asyncio.timeout(60):
                await asyncio.gather(*consumers)
            elapsed = time.perf_counter() - started
        finally:
            for task in consumers:
                task.cancel()
    latencies.sort()
    return {
        "phase": "paced" if rate else "burst",
        "rows": count,
        "deliveries": len(latencies),
        "p50_ms": statistics.median(latencies) * 1e3,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1e3,
        "max_ms": latencies[-1] * 1e3,
        "rows_per_s": count / elapsed,
        "deliveries_per_s": len(latencies) / elapsed,
    }


async def run(binary: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    with RedisServer(binary) as server:
        sender = RedisHub(server.url, instance_id="bench-sender")
        receiver = RedisHub(server.url, instance_id="bench-receiver")
        await sender.start()
        await receiver.start()
        try:
            results = [
                await phase(sender, receiver, args.paced, args.subscribers, args.rate),
                await phase(sender, receiver, args.count, args.subscribers, None),
            ]
        finally:
            await sender.stop()
            await receiver.stop()
    return results


def main() -> None:
    args = parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (see .ci/install-redis.sh)")
    results = asyncio.run(run(binary, args))
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    version = version.split()[2]
    python = platform.python_version()
    print(f"# {time.strftime('%Y-%m-%d')} {platform.node()}, {os.cpu_count()} cpus, Python {python}")
    print(f"# redis-server {version}, {args.subscribers} subscribers on the receiving instance")
    print("| phase | rows | deliveries | p50 ms | p99 ms | max ms | rows/s | deliveries/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['phase']} | {r['rows']} | {r['deliveries']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['max_ms']:.2f} | {r['rows_per_s']:,.0f} | {r['deliveries_per_s']:,.0f} |"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=within(1, MAX_COUNT), default=20_000, help="rows in the burst phase")
    parser.add_argument("--paced", type=within(1, MAX_COUNT), default=2_000, help="rows in the paced phase")
    parser.add_argument("--rate", type=float, default=1_000.0, help="rows per second in the paced phase")
    parser.add_argument("--subscribers", type=within(1, 1000), default=10, help="sockets in the room on the receiver")
    return parser.parse_args()


if __name__ == "__main__":
    main()
