#!/usr/bin/env python3
"""Resident memory over WebSocket connect/close cycles, and per open socket (issue 12, finding 4).

Starts its own server (embedded defaults, the default 20 s ping interval) on a free loopback port
for each variant, then, with real WebSocket clients from this process (the ``websockets`` client
offers permessage-deflate as browsers do; ``--compression off`` offers nothing):

- fills the room with a page of history (50 rows, the catch-up every connect gets), warms up
  with 200 cycles, then runs ``--cycles`` connect/close cycles (``--parallel`` at a time;
  each waits for the first frame, so the server has compressed something) and prints the server's
  RSS (``/proc/<pid>/status``) every ``--step`` cycles;
- on a second fresh server, opens ``--idle`` sockets and keeps them open: RSS per open socket.

Variants: ``released`` is Hypercorn 0.18 as released (``hypercorn_patches.apply`` made a no-op),
``fixes`` the patches with wsproto's default deflate, ``shipped`` what ``python -m quart_chat`` runs.

    .venv/bin/python benchmarks/bench_connection_memory.py [--cycles 3000] [--variants released,shipped]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect

from benchmarks.cli import within
from tests.support.hostile_clients import rss_mib
from tests.support.http_user import RemoteUser, collect_rows, say
from tests.support.server import ROOT, ChatServer

LAUNCH = {
    "released": "import quart_chat.hypercorn_patches as p; p.apply = lambda: None",
    "fixes": (
        "import quart_chat.hypercorn_patches as p, hypercorn.protocol.ws_stream as w, wsproto.extensions as e; "
        "apply = p.apply; p.apply = lambda: (apply(), setattr(w, 'PerMessageDeflate', e.PerMessageDeflate))"
    ),
    "shipped": "pass",
}
WHAT = {
    "released": "Hypercorn 0.18 as released",
    "fixes": "patched, wsproto's default deflate",
    "shipped": "patched + ChatDeflate (shipped)",
}


HISTORY = 50  # rows in the room, as in a room people talk in: what each connect is sent first


class VariantServer(ChatServer):
    """The chat server with cheap password hashing, launched with ``LAUNCH[variant]`` run first."""

    def __init__(self, data_dir: Path, variant: str, **env: str) -> None:
        super().__init__(data_dir, **env)
        self.variant = variant

    def launch(self) -> VariantServer:
        code = (
            f"{LAUNCH[self.variant]}\n"
            "from quart_chat.auth import local\n"
            "from tests.support.cheap_hashing import CHEAP_PASSWORD_HASHER\n"
            "local.PASSWORD_HASHER = CHEAP_PASSWORD_HASHER\n"
            "from quart_chat.__main__ import main\n"
            "main()\n"
        )
        env = {**os.environ, "CHAT_DATA_DIR": str(self.data_dir), "CHAT_PORT": str(self.port), **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self


def connect_as(user: RemoteUser, compression: str | None) -> connect:
    url = user.base.replace("http://", "ws://", 1) + "/rooms/general/ws"
    return connect(url, additional_headers={"Cookie": user.cookie_header()}, origin=user.base,  # type: ignore[arg-type]
                   compression=compression, open_timeout=30)


async def cycles(user: RemoteUser, count: int, parallel: int, compression: str | None) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with gate, connect_as(user, compression) as ws:
            await ws.recv()  # catch-up and status: the server has compressed a frame

    await asyncio.gather(*(one() for _ in range(count)))


async def open_idle(user: RemoteUser, count: int, compression: str | None) -> list:
    sockets = []
    for _ in range(count):
        ws = await connect_as(user, compression)
        await ws.recv()
        sockets.append(ws)
    return sockets


@asynccontextmanager
async def fresh_server(variant: str, compression: str | None) -> AsyncIterator[tuple[VariantServer, RemoteUser]]:
    """A new server process on ``variant`` with a page of history in #general, and a user."""
    with tempfile.TemporaryDirectory() as tmp:
        server = VariantServer(Path(tmp) / "data", variant, CHAT_RATE_LIMIT_BURST="1000").start()
        user = await RemoteUser(server.base, "ada@example.com").sign_up()
        try:
            async with connect_as(user, compression) as ws:
                await ws.recv()
                for i in range(HISTORY):
                    await say(ws, f"message {i}: the quick brown fox jumps over the lazy dog")
                await collect_rows(ws, HISTORY, timeout=30)
            yield server, user
        finally:
            await user.close()
            server.kill()


async def run(variant: str, compression: str | None, args: argparse.Namespace) -> dict:
    # Two processes: sockets the released Hypercorn still holds would otherwise be freed, and
    # their memory reused, during the other measurement.
    async with fresh_server(variant, compression) as (server, user):
        await cycles(user, 200, args.parallel, compression)
        points = [rss_mib(server.pid)]
        started = time.monotonic()
        for _ in range(args.cycles // args.step):
            await cycles(user, args.step, args.parallel, compression)
            points.append(rss_mib(server.pid))
        seconds = time.monotonic() - started
    async with fresh_server(variant, compression) as (server, user):
        before = rss_mib(server.pid)
        sockets = await open_idle(user, args.idle, compression)
        per_socket = (rss_mib(server.pid) - before) * 1024 / args.idle
        for ws in sockets:
            await ws.close()
    row = {"variant": variant, "compression": compression or "off", "points": points, "seconds": seconds,
           "per_socket": per_socket}
    print(f"{WHAT[variant]}, compression {row['compression']}: RSS {' -> '.join(f'{p:.0f}' for p in points)} MiB "
          f"over {args.cycles} cycles in {seconds:.1f} s; {per_socket:.0f} KiB per open socket", flush=True)
    return row


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=within(100, 20_000), default=3000)
    parser.add_argument("--step", type=within(50, 5000), default=500)
    parser.add_argument("--parallel", type=within(1, 200), default=20)
    parser.add_argument("--idle", type=within(10, 2000), default=300, help="open sockets for the per-socket figure")
    parser.add_argument("--variants", default="released,fixes,shipped")
    parser.add_argument("--compression", choices=("both", "deflate", "off"), default="both")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(LAUNCH)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(LAUNCH)}")
    compressions = {"both": ("deflate", None), "deflate": ("deflate",), "off": (None,)}[args.compression]
    rows = [await run(v, c, args) for v in variants for c in compressions]

    steps = [args.step * i for i in range(args.cycles // args.step + 1)]
    print()
    print(f"- Date: {date.today()}. Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{args.parallel} clients at a time, ping interval 20 s.")
    print()
    print("| server | compression | " + " | ".join(f"{s:,}" for s in steps) + " | growth | s | KiB per open socket |")
    print("|---|---|" + "---:|" * (len(steps) + 3))
    for row in rows:
        growth = row["points"][-1] - row["points"][0]
        print(f"| {WHAT[row['variant']]} | {row['compression']} | "
              + " | ".join(f"{p:.0f}" for p in row["points"])
              + f" | {growth:+.0f} MiB | {row['seconds']:.1f} | {row['per_socket']:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
