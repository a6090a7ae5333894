#!/usr/bin/env python3
"""permessage-deflate settings on the app's own frames: size on the wire, CPU, resident memory.

Records the frames one listener receives while three people talk in a room of a real server
(``python -m quart_chat``, embedded defaults), then compresses that stream as one socket's
permessage-deflate compressor would, for each setting: with context takeover at several window
sizes and ``memLevel``s (:mod:`quart_chat.deflate` picks one), and without context takeover.
"Resident" is measured in a child process per setting: 300 compressors, each fed the frames.

    .venv/bin/python benchmarks/bench_deflate.py [--messages 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cli import within
from tests.support.http_user import RemoteUser, say
from tests.support.server import ChatServer

TEXT = (
    "the quick brown fox jumps over a lazy dog hello there is anyone around for lunch meeting moved "
    "to three see you in the room ok thanks great idea let me check the build again tomorrow"
)
WORDS = TEXT.split()
SETTINGS = ((15, 8, True), (12, 8, True), (12, 5, True), (11, 4, True), (10, 4, True), (15, 8, False))
RESIDENT = """
import sys, zlib, pickle
from pathlib import Path
frames = pickle.loads(Path(sys.argv[1]).read_bytes())
wbits, mem = int(sys.argv[2]), int(sys.argv[3])
def rss():
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
before, keep = rss(), []
for _ in range(300):
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits, mem)
    for f in frames:
        c.compress(f); c.flush(zlib.Z_SYNC_FLUSH)
    keep.append(c)
print((rss() - before) / 300)
"""


async def record(messages: int) -> list[bytes]:
    """The frames a listener receives while ada, bob and cy talk (a page of catch-up first)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ChatServer(Path(tmp) / "data", CHAT_RATE_LIMIT_BURST="10000", CHAT_RATE_LIMIT_PER_MINUTE="100000")
        server.start()
        users = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob", "cy")]
        frames: list[bytes] = []
        try:
            rng = random.Random(12)
            async with users[0].socket() as a, users[1].socket() as b, users[2].socket() as c:
                for ws in (a, b, c):
                    await ws.recv()
                for i in range(messages):
                    await say((a, b, c)[i % 3], " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30))))
                    await asyncio.sleep(0.01)  # a conversation, not a burst: one row per frame mostly
                async with users[2].socket(after="00000000000000000-0") as listener:
                    frames.append(str(await listener.recv()).encode())  # a catch-up frame
                    frames.extend(await drain(a))
        finally:
            for user in users:
                await user.close()
            server.kill()
    return frames


async def drain(ws) -> list[bytes]:  # type: ignore[no-untyped-def]
    got: list[bytes] = []
    try:
        while True:
            got.append(str(await asyncio.wait_for(ws.recv(), 1.0)).encode())
    except TimeoutError:
        return got


def compressed(frames: list[bytes], wbits: int, mem: int, takeover: bool) -> tuple[int, float]:
    """Bytes on the wire (each frame's Z_SYNC_FLUSH tail dropped, as RFC 7692 does) and us per frame."""
    total, started = 0, time.perf_counter()
    comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits, mem)
    for frame in frames:
        if not takeover:
            comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits, mem)
        total += len(comp.compress(frame) + comp.flush(zlib.Z_SYNC_FLUSH)) - 4
    return total, (time.perf_counter() - started) / len(frames) * 1e6


def resident_kib(frames: list[bytes], wbits: int, mem: int) -> float:
    import pickle

    with tempfile.NamedTemporaryFile() as f:
        f.write(pickle.dumps(frames))
        f.flush()
        out = subprocess.run([sys.executable, "-c", RESIDENT, f.name, str(wbits), str(mem)],
                             capture_output=True, text=True, check=True)
    return float(out.stdout)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=within(30, 3000), default=300)
    args = parser.parse_args()
    frames = await record(args.messages)
    raw = sum(map(len, frames))
    print(f"- Date: {date.today()}. {len(frames)} frames, {raw:,} bytes "
          f"(median {sorted(map(len, frames))[len(frames) // 2]} B; the first is a catch-up of the latest page).")
    print()
    print("| compressor | on the wire | CPU per frame | resident per compressor |")
    print("|---|---:|---:|---:|")
    for wbits, mem, takeover in SETTINGS:
        size, micros = min((compressed(frames, wbits, mem, takeover) for _ in range(5)), key=lambda r: r[1])
        if takeover:
            name, kib = f"wbits {wbits}, memLevel {mem}", f"{resident_kib(frames, wbits, mem):.0f} KiB"
        else:
            name, kib = f"wbits {wbits}, memLevel {mem}, no context takeover", "0 between frames"
        print(f"| {name} | {size / raw:.1%} | {micros:.1f} us | {kib} |")


if __name__ == "__main__":
    asyncio.run(main())
