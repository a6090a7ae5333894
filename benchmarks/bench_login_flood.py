#!/usr/bin/env python3
"""A crowd of wrong logins at once (issue 12, finding 1): resident memory and how fast everyone is answered.

Starts its own server with production's argon2id (64 MiB, t=3: ``python -m quart_chat``, not the
suite's cheap hasher) on a free loopback port. Each wave is ``--crowd`` logins at once, each from an
address and for an email of its own (a botnet: the per-address and per-account throttles never
trigger, so only the hashing bound stands between the crowd and argon2). Meanwhile one real user
signs in twice, from a new browser and from the browser it signed up in (its device cookie puts it
first in line for a hash), and ``/healthz`` is asked. The server's RSS is sampled every 20 ms.

It runs twice: with the bound as shipped (``CHAT_PASSWORD_HASHES`` = CPU count, wait 1 s) and with
the bound lifted (64 slots, 30 s wait: every login queues for the thread pool, as before the fix).
Bounded in count and time; loopback only.

    .venv/bin/python benchmarks/bench_login_flood.py [--crowd 128] [--waves 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_live import rss_kib
from benchmarks.cli import within
from tests.support.http_user import csrf_token
from tests.support.server import ChatServer


@dataclass
class Run:
    label: str
    baseline_kib: int = 0
    peak_kib: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    flood_seconds: list[float] = field(default_factory=list)
    real_login: list[tuple[int, float]] = field(default_factory=list)
    owner_login: list[tuple[int, float]] = field(default_factory=list)
    device_cookie: str = ""
    healthz: list[float] = field(default_factory=list)


async def sample_rss(pid: int, run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.peak_kib = max(run.peak_kib, rss_kib(pid))
        await asyncio.sleep(0.02)


async def login(http: httpx.AsyncClient, address: str, email: str, password: str) -> tuple[int, float]:
    """One sign-in from ``address`` (the server trusts this process as its proxy): status, seconds."""
    headers = {"X-Forwarded-For": address}
    page = await http.get("/login", headers=headers)
    form = {"email": email, "password": password, "csrf_token": csrf_token(page.text, "/login")}
    began = time.monotonic()
    response = await http.post("/login", data=form, headers=headers)
    return response.status_code, time.monotonic() - began


async def wave(base: str, run: Run, crowd: int, n: int) -> None:
    async def flooder(i: int) -> tuple[int, float]:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            # 198.18.0.0/15, the benchmarking range: header values only, no traffic goes there
            address = f"198.{18 + i // 256}.{n}.{i % 256}"
            return await login(http, address, f"nobody-{n}-{i}@example.com", "a guess")

    async def real_user(cookies: dict[str, str]) -> tuple[int, float]:
        await asyncio.sleep(0.2)  # once the crowd is in
        async with httpx.AsyncClient(base_url=base, timeout=120, cookies=cookies) as http:
            return await login(http, "192.0.2.1", "ada@example.com", "correct horse")

    async def health() -> float:
        await asyncio.sleep(0.3)
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            began = time.monotonic()
            await http.get("/healthz")
            return time.monotonic() - began

    device = {"quart_chat_device": run.device_cookie}
    results = await asyncio.gather(*(flooder(i) for i in range(crowd)), real_user({}), real_user(device), health())
    *flood, real, owner, healthz = results
    run.owner_login.append(owner)
    for status, seconds in flood:
        run.answers[status] += 1
        run.flood_seconds.append(seconds)
    run.real_login.append(real)
    run.healthz.append(healthz)


async def measure(label: str, env: dict[str, str], crowd: int, waves: int) -> Run:
    run = Run(label)
    with tempfile.TemporaryDirectory(prefix="bench-login-") as tmp:
        server = ChatServer(Path(tmp) / "data", real_hashing=True, CHAT_TRUSTED_PROXIES="1", **env).start(60)
        try:
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
                page = await http.get("/signup", headers={"X-Forwarded-For": "192.0.2.1"})
                form = {"email": "ada@example.com", "password": "correct horse",
                        "csrf_token": csrf_token(page.text, "/signup")}  # fmt: skip
                assert (await http.post("/signup", data=form, headers={"X-Forwarded-For": "192.0.2.1"})).is_redirect
                run.device_cookie = http.cookies["quart_chat_device"]
            run.baseline_kib = rss_kib(server.pid)
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(server.pid, run, stop))
            for n in range(waves):
                await wave(server.base, run, crowd, n)
            stop.set()
            await sampler
        finally:
            server.stop()
    return run


def row(run: Run) -> str:
    flood = sorted(run.flood_seconds)
    p50, worst = flood[len(flood) // 2], flood[-1]
    answers = ", ".join(f"{count} x {status}" for status, count in sorted(run.answers.items()))
    real = ", ".join(f"{status} in {seconds:.2f} s" for status, seconds in run.real_login)
    owner = ", ".join(f"{status} in {seconds:.2f} s" for status, seconds in run.owner_login)
    healthz = max(run.healthz)
    return (f"| {run.label} | {run.baseline_kib / 1024:.0f} | {run.peak_kib / 1024:.0f} | "
            f"{(run.peak_kib - run.baseline_kib) / 1024:.0f} | {answers} | {p50:.2f} / {worst:.2f} | {real} | "
            f"{owner} | {healthz:.2f} |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--crowd", type=within(1, 512), default=128, help="logins at once per wave")
    parser.add_argument("--waves", type=within(1, 10), default=3)
    args = parser.parse_args()
    shipped = await measure(
        f"bound {os.cpu_count()} (shipped default), wait 1 s", {}, args.crowd, args.waves
    )
    lifted = await measure(
        "bound lifted (64, wait 30 s): as before", {"CHAT_PASSWORD_HASHES": "64", "CHAT_PASSWORD_HASH_WAIT": "30"},
        args.crowd, args.waves,
    )  # fmt: skip
    print(f"# bench_login_flood {time.strftime('%Y-%m-%d')} {platform.machine()} {os.cpu_count()} cores "
          f"Python {platform.python_version()}: {args.waves} waves of {args.crowd} wrong logins at once")
    print("| hashing | RSS before MiB | peak MiB | growth MiB | crowd's answers | crowd p50 / max s "
          "| the owner from a new browser (per wave) | the owner from her own browser | /healthz max s |")
    print("|---|---:|---:|---:|---|---:|---|---|---:|")
    print(row(shipped))
    print(row(lifted))


if __name__ == "__main__":
    asyncio.run(main())
