"""A real quart-chat server: the ``quart-chat`` command (Hypercorn) on a free loopback port.

It runs with the suite's cheap password hashing (tests/support/cheap_hashing.py), or with
production's (``real_hashing=True``, for what argon2's real cost does). Started and stopped by
process id; its log is kept for the failure message.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


# The abuse limits out of the way, for tests that send, sign up or sign in much faster than a person
# (a variable this version does not declare is not read).
LIMITS_LIFTED = {
    "CHAT_RATE_LIMIT_PER_MINUTE": "100000",
    "CHAT_RATE_LIMIT_BURST": "100000",
    "CHAT_SIGNUPS_PER_HOUR": "100000",
    "CHAT_SIGN_IN_FREE_FAILURES": "1000",
    "CHAT_MAX_SOCKETS_PER_PERSON": "1000",
}


class ChatServer:
    def __init__(self, data_dir: Path, port: int | None = None, *, real_hashing: bool = False, **env: str) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.real_hashing = real_hashing
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ChatServer:
        return self.launch().wait_healthy(timeout)

    def launch(self) -> ChatServer:
        """Start the process without waiting (so several servers boot in parallel)."""
        env = {
            **os.environ,
            "CHAT_DATA_DIR": str(self.data_dir),
            "CHAT_HOST": "127.0.0.1",
            "CHAT_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        log = self.log_path.open("ab")
        # quart-chat itself, or quart-chat hashing cheaply
        command = [sys.executable, "-m", "quart_chat" if self.real_hashing else "tests.support.cheap_hashing"]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def wait_healthy(self, timeout: float = 20.0) -> ChatServer:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful: sockets closed with 1012), then wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running(*servers: ChatServer, timeout: float = 30.0) -> Iterator[tuple[ChatServer, ...]]:
    """Boot several servers at once (:func:`start_all`) and kill them all on the way out."""
    start_all(*servers, timeout=timeout)
    try:
        yield servers
    finally:
        for server in servers:
            server.kill()


def start_all(*servers: ChatServer, timeout: float = 30.0) -> tuple[ChatServer, ...]:
    """Boot several servers at once (a cold start costs seconds each); kill them all if one fails."""
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_healthy(timeout)
    except BaseException:
        for server in servers:
            server.kill()
        raise
    return servers


def sample(metrics_text: str, name: str, labels: str = "") -> float:
    """One sample of Prometheus text (0 when absent, as counters start): ``name{labels} value``."""
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", metrics_text, re.M)
    return float(match.group(1)) if match else 0.0


def metric(server: ChatServer, name: str, labels: str = "") -> float:
    """One sample of the server's /metrics, read now (the test runs on loopback, which /metrics serves)."""
    return sample(httpx.get(server.base + "/metrics", timeout=5).text, name, labels)


async def until_metric(base: str, name: str, at_least: float, timeout: float = 15.0) -> None:
    """Wait until a sample of the server at ``base`` reaches ``at_least``."""
    async with httpx.AsyncClient(timeout=5) as http, asyncio.timeout(timeout):
        while sample((await http.get(base + "/metrics")).text, name) < at_least:
            await asyncio.sleep(0.05)
