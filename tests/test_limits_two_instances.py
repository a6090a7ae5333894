"""The per-person and sign-in limits across two real instances on one real Redis (issue 12, findings 1, 2).

With CHAT_HUB=redis the limits are counted in the same Redis (CHAT_REDIS_URL): a person cannot get
twice the limit by spreading sockets, posts or guesses over instances. And when Redis goes away
the limits fail open to each instance's own count, without slowing sign-in down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http_user import RemoteUser, read_until_closed, say, submit
from tests.support.live_page import store_order
from tests.support.redis_server import RedisServer
from tests.support.server import ChatServer, running, until_metric

pytestmark = pytest.mark.server


@pytest.fixture
def pair(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[ChatServer, ChatServer]]:
    env = {"CHAT_HUB": "redis", "CHAT_REDIS_URL": redis_server.url, "CHAT_MAX_SOCKETS_PER_PERSON": "4"}
    with running(ChatServer(tmp_path / "data", **env), ChatServer(tmp_path / "data", **env)) as (one, two):
        yield one, two


async def test_one_persons_sockets_and_posts_on_two_instances_share_one_limit(
    pair: tuple[ChatServer, ChatServer],
) -> None:
    one, two = pair
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    try:
        async with contextlib.AsyncExitStack() as tabs:
            # Frames are left unread here: an unbounded client queue, so the clients still read the close.
            opening = [ada.socket(room="shared", base=base, max_queue=None) for base in (one.base, two.base)]
            sockets = [await tabs.enter_async_context(ws) for ws in opening]
            for ws in sockets:
                await ws.recv()
            await asyncio.gather(*(say(ws, f"{n}-{i}") for n, ws in enumerate(sockets) for i in range(15)))
            for server in pair:
                await until_metric(server.base, "chat_messages_received_total", 15)
            stored = len(await store_order(ada, "shared"))
    finally:
        await ada.close()
    assert 10 <= stored <= 14, stored  # one burst of 10 for both instances, not 10 each (20)


async def test_the_socket_cap_counts_a_persons_sockets_on_every_instance(pair: tuple[ChatServer, ChatServer]) -> None:
    one, two = pair
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    try:
        async with contextlib.AsyncExitStack() as tabs:
            for base in (one.base, one.base, two.base, two.base):  # the cap (4), over both instances
                ws = await tabs.enter_async_context(ada.socket(base=base))
                assert "Live" in str(await ws.recv())
            for base in (one.base, two.base):
                async with ada.socket(base=base) as ws:
                    code, reason, _ = await read_until_closed(ws)
                assert (code, reason) == (1008, "too many connections")
        # All four closed: their leases were given back at once, on both instances.
        async with ada.socket(base=two.base) as ws:
            assert "Live" in str(await ws.recv())
    finally:
        await ada.close()


async def test_guessing_on_two_instances_is_throttled_as_one_and_fails_open_without_redis(
    pair: tuple[ChatServer, ChatServer], redis_server: RedisServer
) -> None:
    one, two = pair
    await (await RemoteUser(one.base, "ada@example.com").sign_up()).close()
    guesser_one = RemoteUser(one.base, "guesser@example.com")
    guesser_two = RemoteUser(two.base, "guesser@example.com")
    try:
        statuses = []
        for i in range(12):  # alternating instances
            guesser = (guesser_one, guesser_two)[i % 2]
            statuses.append((await submit(guesser, "/login", "ada@example.com", f"guess {i}")).status_code)
            if statuses[-1] == 429:
                break
        # One count: five free, one that starts the back-off, then 429 (counted per instance, the first
        # 429 would come after twelve, six on each).
        assert statuses[:6] == [401] * 6 and statuses[-1] == 429 and len(statuses) <= 8, statuses

        redis_server.stop()  # fail open: each instance counts alone, and answers without waiting on Redis
        began = time.monotonic()
        answer = await submit(guesser_one, "/login", "ada@example.com", "correct horse")
        assert answer.status_code == 303 and time.monotonic() - began < 5
    finally:
        await guesser_one.close()
        await guesser_two.close()
