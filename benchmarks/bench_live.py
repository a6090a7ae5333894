#!/usr/bin/env python3
"""The hot path on one instance: send-to-receive latency, fan-out throughput, memory per socket.

Starts its own server (``python -m quart_chat``, embedded defaults, memory hub) on a free loopback
port and drives it with real WebSocket clients from this process. Bounded in count and time.

``--members N`` adds N people who joined the room but are reading another one (``lobby``): every
message then also costs N sidebar notices, each a small fragment on that person's socket (issue 9).

    .venv/bin/python benchmarks/bench_live.py [--listeners 100] [--messages 400] [--idle 500] [--members 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quart_chat.store import UNREAD_CAP
from tests.support.http_user import RemoteUser, rows, say
from tests.support.server import ChatServer

UNREAD = re.compile(r' data-unread="(\d+)"')


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    return time.process_time()


def histogram_quantiles(metrics: str, name: str, quantiles: tuple[float, ...]) -> list[str]:
    """Upper bucket bounds holding each quantile of a Prometheus histogram (server-side view)."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    out = []
    for q in quantiles:
        bound = next((b for b, count in buckets if total and count >= q * total), float("nan"))
        out.append(f"<= {bound * 1e3:g} ms")
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def open_sockets(user: RemoteUser, count: int, room: str) -> list:
    sockets = []
    for _ in range(count):
        ws = await user.socket(room).__aenter__()
        await ws.recv()  # catch-up + live status
        sockets.append(ws)
    return sockets


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--rate", type=float, default=50.0, help="paced messages per second")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=10, help="sockets sending the burst at once")
    parser.add_argument("--idle", type=int, default=500, help="idle sockets for the memory measurement")
    parser.add_argument("--members", type=int, default=0, help="people in the room who read another one")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-live-")) / "data"
    # One user holds every socket and sends the burst: lift the per-person limits for the run.
    server = ChatServer(
        data, CHAT_MESSAGE_BURST="100000", CHAT_MESSAGES_PER_MINUTE="100000", CHAT_QUEUE_SIZE="4096",
        CHAT_FRAMES_PER_MINUTE="100000", CHAT_MAX_SOCKETS_PER_PERSON="1000",
    ).start()  # fmt: skip
    try:
        user = await RemoteUser(server.base, "bench@example.com").sign_up()
        pid = server.proc.pid  # type: ignore[union-attr]

        # Memory: RSS before and after opening idle sockets in another room.
        await asyncio.sleep(0.5)
        rss_before = rss_kib(pid)
        idle = await open_sockets(user, args.idle, "idle")
        await asyncio.sleep(1.0)
        rss_after = rss_kib(pid)
        per_socket = (rss_after - rss_before) / max(1, args.idle)
        for ws in idle:
            await ws.close()

        # Members elsewhere: each joins "bench" (opens it once), then reads "lobby"; they only get sidebar
        # notices. While the paced messages come one by one, a badge showing n means the n-th has arrived:
        # that is the notice's latency. Notices that arrive together share one link (the latest count).
        members, elsewhere, links, badge_latency = [], [], [0], []
        finals = [0] * args.members
        paced_sent: list[float] = []
        for i in range(args.members):
            member = await RemoteUser(server.base, f"member{i}@example.com").sign_up()
            await member.http.get("/rooms/bench")
            members.append(member)
            elsewhere += await open_sockets(member, 1, "lobby")

        async def watch_badge(i: int, ws) -> None:
            while True:
                frame = str(await ws.recv())
                now = time.perf_counter()
                for shown in map(int, UNREAD.findall(frame)):
                    links[0] += 1
                    if finals[i] < shown <= len(paced_sent):
                        badge_latency.append(now - paced_sent[shown - 1])
                    finals[i] = max(finals[i], shown)

        badge_tasks = [asyncio.create_task(watch_badge(i, ws)) for i, ws in enumerate(elsewhere)]
        listeners = await open_sockets(user, args.listeners, "bench")
        sender = await user.socket("bench").__aenter__()
        await sender.recv()
        sent_at: dict[str, float] = {}
        latencies: list[float] = []
        received = [0] * len(listeners)

        async def listen(i: int, ws, expected: int) -> None:
            while received[i] < expected:
                frame = await ws.recv()
                now = time.perf_counter()
                for _, text in rows(frame):
                    if text in sent_at:
                        latencies.append(now - sent_at[text])
                        received[i] += 1

        async def drain(ws) -> None:
            while True:
                await ws.recv()

        drainer = asyncio.create_task(drain(sender))

        # Paced: what a user sees.
        cpu0, own0, wall0 = cpu_seconds(pid), own_cpu(), time.perf_counter()
        tasks = [asyncio.create_task(listen(i, ws, args.messages)) for i, ws in enumerate(listeners)]
        for n in range(args.messages):
            text = f"paced {n}"
            sent_at[text] = time.perf_counter()
            if n < UNREAD_CAP - 1:
                paced_sent.append(sent_at[text])
            await say(sender, text)
            await asyncio.sleep(1 / args.rate)
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        paced = list(latencies)
        wall = time.perf_counter() - wall0
        paced_cpu = ((cpu_seconds(pid) - cpu0) / wall, (own_cpu() - own0) / wall)

        # Burst: throughput of store + fan-out, from several senders at once.
        latencies.clear()
        received[:] = [0] * len(listeners)
        senders = [sender, *[await user.socket("bench").__aenter__() for _ in range(args.senders - 1)]]
        for ws in senders[1:]:
            await ws.recv()
        drainers = [asyncio.create_task(drain(ws)) for ws in senders[1:]]
        tasks = [asyncio.create_task(listen(i, ws, args.burst)) for i, ws in enumerate(listeners)]
        cpu0, own0, start = cpu_seconds(pid), own_cpu(), time.perf_counter()

        async def send_share(k: int, ws) -> None:
            for n in range(k, args.burst, len(senders)):
                text = f"burst {n}"
                sent_at[text] = time.perf_counter()
                await say(ws, text)

        await asyncio.gather(*(send_share(k, ws) for k, ws in enumerate(senders)))
        await asyncio.wait_for(asyncio.gather(*tasks), 300)
        burst_seconds = time.perf_counter() - start
        burst_cpu = ((cpu_seconds(pid) - cpu0) / burst_seconds, (own_cpu() - own0) / burst_seconds)
        drainer.cancel()
        for d in [*drainers, *badge_tasks]:
            d.cancel()

        print(f"# bench_live {time.strftime('%Y-%m-%d')} {platform.machine()} {os.cpu_count()} cores "
              f"Python {platform.python_version()}")
        print(f"listeners={args.listeners} paced={args.messages}@{args.rate}/s "
              f"burst={args.burst} from {args.senders} senders, members elsewhere={args.members}")
        print("| phase | deliveries | p50 ms | p95 ms | p99 ms | max ms | rows/s stored | deliveries/s "
              "| server CPU | bench CPU |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(f"| paced | {len(paced)} | {statistics.median(paced) * 1e3:.2f} | {pct(paced, 95) * 1e3:.2f} | "
              f"{pct(paced, 99) * 1e3:.2f} | {max(paced) * 1e3:.2f} | {args.rate:.0f} | "
              f"{args.rate * args.listeners:.0f} | {paced_cpu[0]:.0%} | {paced_cpu[1]:.0%} |")
        print(f"| burst | {len(latencies)} | {statistics.median(latencies) * 1e3:.2f} | "
              f"{pct(latencies, 95) * 1e3:.2f} | {pct(latencies, 99) * 1e3:.2f} | {max(latencies) * 1e3:.2f} | "
              f"{args.burst / burst_seconds:.0f} | {args.burst * args.listeners / burst_seconds:.0f} | "
              f"{burst_cpu[0]:.0%} | {burst_cpu[1]:.0%} |")
        metrics = (await user.http.get("/metrics")).text
        p50, p99 = histogram_quantiles(metrics, "chat_send_to_deliver_seconds", (0.5, 0.99))
        print(f"server-side stored-to-written (both phases, /metrics histogram): p50 {p50}, p99 {p99}")
        print(f"server RSS: {rss_before} KiB idle, {rss_after} KiB with {args.idle} open sockets "
              f"=> {per_socket:.1f} KiB per socket")
        if args.members:
            expected = min(UNREAD_CAP, args.messages + args.burst)
            print(f"sidebar: {args.members} members elsewhere got {links[0]} link fragments; final badges "
                  f"{min(finals)}..{max(finals)} (expected {expected}, the cap); paced send-to-badge "
                  f"p50 {statistics.median(badge_latency) * 1e3:.2f} ms, p95 {pct(badge_latency, 95) * 1e3:.2f} ms "
                  f"({len(badge_latency)} samples)")
        for ws in [*listeners, *senders, *elsewhere]:
            await ws.close()
        for member in members:
            await member.close()
        await user.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
