"""Store latencies: add and latest against SQLite, and Firestore when its emulator is reachable.

    python benchmarks/bench_store.py [--n 200]

Firestore runs only when FIRESTORE_EMULATOR_HOST is set (start the emulator as
tests/support/emulators.py does); it never talks to a real project.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from quart_chat.store import MessageStore
from quart_chat.store.sqlite import SqliteStore


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"{statistics.median(samples) * 1000:8.2f} {p95 * 1000:8.2f}"


async def _time(n: int, op: Callable[[int], Awaitable[object]]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        await op(i)
        out.append(time.perf_counter() - t)
    return out


async def bench(name: str, store: MessageStore, n: int) -> list[str]:
    await store.open()
    try:
        add = await _time(n, lambda i: store.add("bench", "u1", "bench@example.com", f"message {i}"))
        latest = await _time(n, lambda i: store.latest("bench", 50))
        t = time.perf_counter()
        await asyncio.gather(*(store.add("bench-c", f"u{i}", "x", f"c{i}") for i in range(n)))
        concurrent = (time.perf_counter() - t) / n
    finally:
        await store.close()
    return [
        f"{name:<10} {'add':<12} {_ms(add)}",
        f"{name:<10} {'latest(50)':<12} {_ms(latest)}",
        f"{name:<10} {f'add x{n} gather':<12} {concurrent * 1000:8.2f} {'':>8}  (wall time per message)",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="operations per measurement")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await bench("sqlite", SqliteStore(Path(tmp) / "bench.db"), args.n)
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        from quart_chat.store.firestore import FirestoreStore

        project = os.environ.get("FIREBASE_PROJECT_ID", "demo-quart-chat")
        rows += await bench("firestore", FirestoreStore(project_id=project, credentials_path=None), args.n)
    else:
        rows.append("firestore  (skipped: FIRESTORE_EMULATOR_HOST is not set)")
    print(f"{'store':<10} {'operation':<12} {'p50 ms':>8} {'p95 ms':>8}")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
