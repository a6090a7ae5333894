"""A private redis-server for tests and benchmarks: its own process, a free loopback port, no disk.

It is killed by its own process id (never by name) and can be restarted on the same port,
which is how the tests simulate a Redis crash and recovery.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.net import free_port


def redis_server_binary() -> str:
    """The machine's redis-server; skip without it, but fail under CI=true (a missing tool is a bug there)."""
    from tests.support.tools import require_binary  # here, so the benchmark can use this module without pytest

    return require_binary("redis-server", "install it with .ci/install-redis.sh")


class RedisServer:
    """One redis-server process on 127.0.0.1:<port>, started and stopped on demand."""

    def __init__(self, binary: str, port: int | None = None, workdir: Path | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="redis-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.log_path = self.workdir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it answers PING; raise with its log if it does not."""
        if self.proc is not None:
            raise RuntimeError("redis-server is already running")
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server gave no PONG on port {self.port}:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGKILL our own process (a crash, as far as clients can tell) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)

    def restart(self, timeout: float = 10.0) -> None:
        """Start again on the same port (an empty server: nothing is saved)."""
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
