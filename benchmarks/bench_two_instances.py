"""End-to-end delivery latency between two real app instances on one Redis.

Starts its own redis-server on a free loopback port and two app processes (the ``quart-chat`` command,
Hypercorn, CHAT_HUB=redis, one shared SQLite data folder). A sender on instance A sends M messages over
its WebSocket at a paced rate; K listener sockets on instance B (cross-instance) and K on instance A
(same instance, for comparison) record when each row arrives. Latency is from just before the sender's
``send()`` to the row parsed on a listener: frame parsing, validation, the SQLite write, rendering,
Redis (for B) and the listener's socket are all inside it. Everything runs on this machine, on one clock.
Every process it starts is stopped by its own pid at the end.

    python benchmarks/bench_two_instances.py [--count 600] [--rate 20] [--listeners 20] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from benchmarks.cli import within
from tests.support.http_user import RemoteUser, say
from tests.support.live_page import KEYED_ROW
from tests.support.redis_server import RedisServer
from tests.support.server import ChatServer, start_all

MAX_COUNT = 20_000
MAX_SECONDS = 600
PREFIX = "bench "


async def listen(ws: ClientConnection, sent_at: dict[int, float], out: list[float], count: int) -> None:
    """Record each bench row's latency as it arrives, until ``count`` rows came."""
    got = 0
    while got < count:
        frame = str(await ws.recv())
        now = time.perf_counter()
        for _mid, _key, text in KEYED_ROW.findall(frame):
            if text.startswith(PREFIX):
                out.append(now - sent_at[int(text[len(PREFIX) :])])
                got += 1


async def drain(ws: ClientConnection) -> None:
    """Read and drop until the socket closes (the sender's composer comes back after every message)."""
    with suppress(ConnectionClosed):
        while True:
            await ws.recv()


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1e3

    return {
        "n": len(ordered),
        "p50": statistics.median(ordered) * 1e3,
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1] * 1e3,
    }


async def run_once(a: ChatServer, b: ChatServer, args: argparse.Namespace, n: int) -> dict[str, Any]:
    sender = await RemoteUser(a.base, f"sender{n}@example.com").sign_up()
    on_b = await RemoteUser(b.base, f"far{n}@example.com").sign_up()
    on_a = await RemoteUser(a.base, f"near{n}@example.com").sign_up()
    room = f"bench-{n}"
    sent_at: dict[int, float] = {}
    cross: list[float] = []
    same: list[float] = []
    sockets: list[ClientConnection] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for user, out in ((on_b, cross), (on_a, same)):
            for _ in range(args.listeners):
                ws = await user.socket(room)
                await ws.recv()  # catch-up and status
                sockets.append(ws)
                tasks.append(asyncio.create_task(listen(ws, sent_at, out, args.count)))
        ws = await sender.socket(room)
        await ws.recv()
        sockets.append(ws)
        tasks.append(asyncio.create_task(drain(ws)))
        started = time.perf_counter()
        for i in range(args.count):
            sent_at[i] = time.perf_counter()
            await say(ws, f"{PREFIX}{i}")
            await asyncio.sleep(max(0.0, started + (i + 1) / args.rate - time.perf_counter()))
        async with asyncio.timeout(30):
            await asyncio.gather(*tasks[:-1])
    finally:
        # Keep reading while closing: unread frames would hold up each socket's close handshake.
        tasks += [asyncio.create_task(drain(ws)) for ws in sockets[:-1]]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for user in (sender, on_a, on_b):
            await user.close()
    return {"cross": summary(cross), "same": summary(same)}


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-two-") as tmp, RedisServer(_redis_binary()) as redis:
        env = {
            "CHAT_HUB": "redis",
            "CHAT_REDIS_URL": redis.url,
            # One sender at --rate: lift the per-person limits so the benchmark is not throttled,
            # and let every benchmark user sign up from this one address.
            "CHAT_MESSAGES_PER_MINUTE": str(max(60, int(args.rate * 60 * 2))),
            "CHAT_MESSAGE_BURST": "1000",
            "CHAT_FRAMES_PER_MINUTE": str(max(300, int(args.rate * 60 * 2))),
            "CHAT_SIGNUPS_PER_HOUR": "100000",
        }
        a = ChatServer(Path(tmp) / "data", **env)
        b = ChatServer(Path(tmp) / "data", **env)
        start_all(a, b)
        try:
            return [await run_once(a, b, args, n) for n in range(args.runs)]
        finally:
            a.stop()
            b.stop()


def _redis_binary() -> str:
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (see .ci/install-redis.sh)")
    return binary


def main() -> None:
    args = parse_args()
    results = asyncio.run(run(args))
    redis_version = (
        subprocess.run([_redis_binary(), "--version"], capture_output=True, text=True, check=True)
        .stdout.split()[2]
        .removeprefix("v=")
    )
    print(
        f"# {time.strftime('%Y-%m-%d')}, {platform.node()}, Python {platform.python_version()}, "
        f"quart {version('quart')}, hypercorn {version('hypercorn')}, redis-py {version('redis')}, "
        f"websockets {version('websockets')}, redis-server {redis_version}"
    )
    print(f"# {args.count} messages at {args.rate:g}/s, {args.listeners} listener sockets on each instance")
    print("| run | path | deliveries | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for n, result in enumerate(results, 1):
        for path, label in (("cross", "A -> B (cross-instance)"), ("same", "A -> A (same instance)")):
            r = result[path]
            print(f"| {n} | {label} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['max']:.2f} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=within(1, MAX_COUNT), default=600, help="messages the sender sends (per run)")
    parser.add_argument("--rate", type=within(0.1, 1000, float), default=20.0, help="messages per second")
    parser.add_argument("--listeners", type=within(1, 500), default=20, help="listener sockets on each instance")
    parser.add_argument("--runs", type=within(1, 10), default=1, help="runs against the same two instances")
    args = parser.parse_args()
    if args.count / args.rate * args.runs > MAX_SECONDS:
        parser.error(f"count / rate * runs must stay under {MAX_SECONDS} s")
    return args


if __name__ == "__main__":
    main()
