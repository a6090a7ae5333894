"""CHAT_WORKERS > 1: the supervisor binds one port and runs worker processes on one Redis and one data folder.

Which worker holds a socket is read from the log: every line carries its process id.
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
from pathlib import Path

import pytest

from tests.support.http_user import RemoteUser
from tests.support.live_page import Tab, until_pages_hold, until_stored
from tests.support.net import until
from tests.support.redis_server import RedisServer
from tests.support.server import ROOT, ChatServer

pytestmark = pytest.mark.server

GRACEFUL = 5.0
CONNECT = re.compile(r"quart_chat\.web\.live\[(\d+)\]: connect uid=")
RUNNING = re.compile(r"hypercorn\.error\[(\d+)\]: Running on")


@pytest.fixture
def supervised(tmp_path: Path, redis_server: RedisServer) -> Iterator[ChatServer]:
    server = ChatServer(
        tmp_path / "data",
        CHAT_WORKERS="2",
        CHAT_HUB="redis",
        CHAT_REDIS_URL=redis_server.url,
        CHAT_GRACEFUL_TIMEOUT=str(GRACEFUL),
        CHAT_MESSAGES_PER_MINUTE="60000",
        CHAT_MESSAGE_BURST="1000",
    )
    server.start()
    try:
        yield server
    finally:
        for pid in workers_of(server):  # our own grandchildren, by pid, should the supervisor be gone
            os.kill(pid, signal.SIGKILL)
        server.kill()


def workers_of(server: ChatServer) -> set[int]:
    """The supervisor's live child processes (Linux /proc)."""
    try:
        return {int(p) for p in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


def listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port`` (Linux /proc/net/tcp; state 0A is LISTEN)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def running(server: ChatServer) -> list[int]:
    """Pids of the workers that have logged 'Running on', in start order."""
    return [int(pid) for pid in RUNNING.findall(server.log())]


async def open_on_worker(server: ChatServer, user: RemoteUser, avoid: int | None) -> tuple[Tab, int]:
    """Open tabs until one lands on a worker other than ``avoid``; returns it and its worker's pid."""
    for _ in range(30):
        seen = len(CONNECT.findall(server.log()))
        tab = await Tab(user).open()
        await until(lambda: len(CONNECT.findall(server.log())) > seen, timeout=5)  # noqa: B023
        pid = int(CONNECT.findall(server.log())[seen])
        if pid != avoid:
            return tab, pid
        await tab.close()
    raise AssertionError(f"30 sockets in a row went to worker {avoid}: the kernel is not spreading them")


async def test_two_workers_share_the_room_survive_a_killed_worker_and_stop_with_1012(
    supervised: ChatServer,
) -> None:
    server = supervised
    await until(lambda: len(set(running(server))) == 2 and len(workers_of(server)) == 2, timeout=15)
    # One accept queue per worker (SO_REUSEPORT), so the kernel spreads connections evenly; with one
    # shared queue a busy worker can win every accept of a burst.
    assert len(listening_sockets(server.port)) == 2
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    bob = await RemoteUser(server.base, "bob@example.com").sign_up()
    tabs: list[Tab] = []
    try:
        a, ada_worker = await open_on_worker(server, ada, avoid=None)
        b, bob_worker = await open_on_worker(server, bob, avoid=ada_worker)
        tabs += [a, b]
        assert {ada_worker, bob_worker} == workers_of(server)

        for i in range(10):
            assert await a.say(f"ada {i}")
            assert await b.say(f"bob {i}")
        expected = await until_stored(ada, 20)
        await until_pages_hold(tabs, expected, timeout=10)
        for tab in tabs:  # every row once on each socket, whichever worker stored it
            assert tab.page.duplicates() == {}

        # A worker dies: the supervisor starts another; its socket reconnects (same port) and catches up.
        a.fallback = server.base
        os.kill(ada_worker, signal.SIGKILL)
        await until(lambda: len(running(server)) == 3 and len(workers_of(server)) == 2, timeout=15)
        assert ada_worker not in workers_of(server) and bob_worker in workers_of(server)
        assert f"worker pid={ada_worker} exited with -9; restarting" in server.log()
        await until(lambda: a.reconnects == 1 and a.connected.is_set(), timeout=10)
        for i in range(10, 15):
            assert await b.say(f"bob {i}")
        expected = await until_stored(ada, 25)
        await until_pages_hold(tabs, expected, timeout=10)
        assert b.close_codes == [] and b.page.duplicates() == {}  # the other worker's socket never noticed

        # SIGTERM to the supervisor: every socket is closed with 1012, and it exits 0 within the timeout.
        a.fallback = None
        started = time.monotonic()
        # (in a thread: the clients must go on running to answer the close handshake)
        assert await asyncio.to_thread(server.stop, GRACEFUL + 5) == 0
        assert time.monotonic() - started < GRACEFUL
        await until(lambda: all(not tab.connected.is_set() for tab in tabs), timeout=2)
        assert a.close_codes == [1006, 1012] and b.close_codes == [1012]
        assert workers_of(server) == set()
    finally:
        for tab in tabs:
            await tab.close()
        await ada.close()
        await bob.close()


def test_more_than_one_worker_with_the_memory_hub_refuses_to_start(tmp_path: Path) -> None:
    env = {**os.environ, "CHAT_WORKERS": "2", "CHAT_HUB": "memory", "CHAT_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "quart_chat"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.strip() == ("quart-chat: CHAT_WORKERS > 1 needs CHAT_HUB=redis (the memory hub is one process).")
    assert not any(tmp_path.iterdir())  # nothing was started, nothing written
