"""Several worker processes on one port (CHAT_WORKERS > 1), each a full single-process server.

The parent binds one listening socket per worker, all on the same port with
SO_REUSEPORT, and hands each worker its own (Hypercorn's ``fd://`` bind): the
kernel hashes every new connection to one of them, so the load is spread
evenly. (With one shared socket whichever worker wakes first takes the
connection, and a busy worker can take every one of a burst.) A restarted
worker gets its slot's socket back, with the connections that queued on it.
It forwards SIGTERM/SIGINT, so each worker closes its sockets with 1012, and
restarts a worker that dies unexpectedly. Workers share nothing in memory:
this needs CHAT_HUB=redis, and the SQLite store and the secret key work
because they live in the shared data folder.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time

from quart_chat.settings import Settings

log = logging.getLogger("quart_chat.supervisor")
LISTEN_FD_ENV = "CHAT_LISTEN_FD"


def _listen(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _spawn(fd: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHAT_WORKERS": "1", LISTEN_FD_ENV: str(fd)}
    return subprocess.Popen([sys.executable, "-m", "quart_chat"], env=env, pass_fds=(fd,))


def supervise(settings: Settings) -> int:
    socks = [_listen(settings) for _ in range(settings.workers)]  # one per worker slot
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    workers = [_spawn(sock.fileno()) for sock in socks]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("supervising %d workers on %s:%d (pids %s)", settings.workers, settings.host, settings.port,
             ", ".join(str(p.pid) for p in workers))
    restarts: list[float] = []
    while True:
        time.sleep(0.2)
        if stopping:
            deadline = time.monotonic() + settings.graceful_timeout + 5
            for proc in workers:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for sock in socks:
                sock.close()
            return max((p.returncode or 0) for p in workers)
        for i, proc in enumerate(workers):
            if proc.poll() is not None:
                now = time.monotonic()
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > 5 * settings.workers:
                    log.error("workers keep dying; giving up")
                    on_signal(signal.SIGTERM, None)
                    break
                log.warning("worker pid=%d exited with %s; restarting", proc.pid, proc.returncode)
                workers[i] = _spawn(socks[i].fileno())
