"""The Redis hub against a real redis-server: two hubs play two app instances."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
import redis.asyncio as aioredis

from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import GAP, RESYNC, Gap, Resync, Subscription
from quart_chat.hub.redis import RedisHub, redact
from tests.support.redis_server import RedisServer

Item = Broadcast | Resync | Gap | str


@pytest.fixture
async def plain(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """An ordinary client, to look at Redis from outside the hubs."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def hubs(redis_server: RedisServer) -> AsyncIterator[tuple[RedisHub, RedisHub]]:
    a = RedisHub(redis_server.url, instance_id="a")
    b = RedisHub(redis_server.url, instance_id="b")
    started = time.monotonic()
    await a.start()
    await b.start()
    assert a.healthy and b.healthy
    assert time.monotonic() - started < 1.0  # start returns as soon as the link is up
    yield a, b
    await a.stop()
    await b.stop()


def row(room: str, n: int, origin: str = "a") -> Broadcast:
    return Broadcast(room, f"{origin}{n}", f"{n:017d}-{origin}{n}", f"<li>{room} {origin}{n}</li>")


async def take(sub: Subscription, count: int, timeout: float = 5.0) -> list[Item]:
    """Exactly ``count`` items, or a TimeoutError."""
    got: list[Item] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            await sub.wait()
            got.extend(sub.drain(count - len(got)))
    return got


async def quiet(sub: Subscription, seconds: float = 0.3) -> list[Item]:
    """Whatever else arrives within a short while (expected: nothing)."""
    await asyncio.sleep(seconds)
    return sub.drain(10_000)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    """Wait for a condition; returns the seconds it took."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    return time.monotonic() - start


async def channels(client: aioredis.Redis) -> list[str]:
    return sorted(c.decode() for c in await client.pubsub_channels("quart-chat:room:*"))


async def test_rows_cross_instances_in_order_once_and_locally(hubs: tuple[RedisHub, RedisHub]) -> None:
    a, b = hubs
    async with a.subscribe("general") as on_a, b.subscribe("general") as on_b:
        from_a = [row("general", n, "a") for n in range(50)]
        from_b = [row("general", n, "b") for n in range(50)]
        for ra, rb in zip(from_a, from_b, strict=True):
            await a.publish(ra)
            await b.publish(rb)
        for sub in (on_a, on_b):
            got = await take(sub, 100)
            assert [r for r in got if r in from_a] == from_a  # each instance's rows in its order
            assert [r for r in got if r in from_b] == from_b
            assert await quiet(sub) == []  # no duplicates, no echo of our own rows


async def test_rooms_are_isolated_across_many_rooms(hubs: tuple[RedisHub, RedisHub]) -> None:
    a, b = hubs
    rooms = [f"room-{i}" for i in range(30)]
    async with AsyncExitStack() as stack:
        subs = {room: await stack.enter_async_context(b.subscribe(room)) for room in rooms}
        twin = await stack.enter_async_context(b.subscribe("room-0"))
        lonely = await stack.enter_async_context(b.subscribe("lonely"))
        for n in range(10):
            for room in rooms:
                await a.publish(row(room, n))
        for room, sub in subs.items():
            assert await take(sub, 10) == [row(room, n) for n in range(10)]
        assert await take(twin, 10) == [row("room-0", n) for n in range(10)]
        assert await quiet(lonely) == []
        assert all(sub.drain(100) == [] for sub in subs.values())


async def test_subscribes_on_first_socket_and_unsubscribes_after_last(
    hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis
) -> None:
    a, b = hubs
    channel = "quart-chat:room:x"
    assert await channels(plain) == []
    async with a.subscribe("x"):
        # subscribe() returns only once Redis has confirmed: no polling needed here.
        assert await channels(plain) == [channel]
        async with a.subscribe("x"):
            assert await plain.pubsub_numsub(channel) == [(channel.encode(), 1)]  # one per instance
            async with b.subscribe("x"):
                assert await plain.pubsub_numsub(channel) == [(channel.encode(), 2)]
            await until(lambda: b.fanout.rooms() == [])
        async with asyncio.timeout(5):
            while await plain.pubsub_numsub(channel) != [(channel.encode(), 1)]:
                await asyncio.sleep(0.01)
        assert await channels(plain) == [channel]  # a still has one socket in the room
    async with asyncio.timeout(5):
        while await channels(plain) != []:
            await asyncio.sleep(0.01)


async def test_subscribe_returns_only_once_redis_has_subscribed(
    hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis
) -> None:
    """No gap: a socket reads history after subscribing, so the SUBSCRIBE must be in force by then."""
    a, _b = hubs
    await plain.execute_command("CLIENT", "PAUSE", "400", "ALL")  # Redis holds a's SUBSCRIBE for 0.4 s
    started = time.monotonic()
    async with a.subscribe("p"):
        assert time.monotonic() - started > 0.3
        assert await channels(plain) == ["quart-chat:room:p"]


async def test_a_silent_link_is_noticed_and_repaired(
    redis_server: RedisServer, hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis
) -> None:
    """Redis stops answering (paused) without closing the socket: the PING check must notice."""
    a, b = hubs
    async with a.subscribe("r") as on_a:
        await plain.execute_command("CLIENT", "PAUSE", "2500", "ALL")
        noticed = await until(lambda: not a.healthy, timeout=2.4)  # before the pause ends
        assert noticed < 2.0
        await until(lambda: a.healthy, timeout=10)
        assert await take(on_a, 2) == [GAP, RESYNC]  # where the outage began, then "re-read from there"
        await b.publish(row("r", 1, "b"))
        assert await take(on_a, 1) == [row("r", 1, "b")]


async def test_slow_consumer_is_closed_without_slowing_the_others(redis_server: RedisServer) -> None:
    a = RedisHub(redis_server.url, queue_size=8, instance_id="a")
    b = RedisHub(redis_server.url, queue_size=8, instance_id="b")
    await a.start()
    await b.start()
    try:
        async with b.subscribe("r") as slow, b.subscribe("r") as fast, a.subscribe("r") as slow_local:
            sent = [row("r", n) for n in range(40)]
            received = asyncio.create_task(take(fast, 40))
            started = time.monotonic()
            for r in sent:
                await a.publish(r)
                await asyncio.sleep(0.005)
            assert time.monotonic() - started < 2.0  # publish never waited on the stuck readers
            assert await received == sent
            for sub in (slow, slow_local):
                assert sub.close_request is not None and sub.close_request.code == Close.TRY_AGAIN_LATER
            assert fast.close_request is None
    finally:
        await a.stop()
        await b.stop()


async def test_redis_crash_and_restart_resyncs_every_socket(
    redis_server: RedisServer, hubs: tuple[RedisHub, RedisHub]
) -> None:
    a, b = hubs
    async with a.subscribe("r") as on_a, b.subscribe("r") as on_b:
        await a.publish(row("r", 1))
        assert await take(on_a, 1) == [row("r", 1)]
        assert await take(on_b, 1) == [row("r", 1)]

        redis_server.stop()  # SIGKILL mid-stream
        noticed = await until(lambda: not a.healthy and not b.healthy, timeout=3)
        assert noticed < 2.0

        await a.publish(row("r", 2))  # stored by the app; must not raise, must reach local sockets
        assert await take(on_a, 2) == [GAP, row("r", 2)]  # the GAP marks where the outage began
        assert await quiet(on_b, 0.2) == [GAP]

        await asyncio.to_thread(redis_server.start)  # same port, empty server
        await until(lambda: a.healthy and b.healthy, timeout=10)
        assert await take(on_a, 1) == [RESYNC]
        assert await take(on_b, 1) == [RESYNC]  # b re-reads the store and finds row 2 there

        await a.publish(row("r", 3))  # subscriptions are back
        assert await take(on_a, 1) == [row("r", 3)]
        got = await take(on_b, 1)
        notice = Resync(since=row("r", 2).cursor)  # a's "I missed room r from row 2" may come first
        while got[-1] == notice:
            got += await take(on_b, 1)
        assert got[-1] == row("r", 3) and all(item == notice for item in got[:-1])
        assert await quiet(on_a) == [] and await quiet(on_b) == []
    assert a.reconnects == 1 and b.reconnects == 1


async def test_start_while_redis_is_down_keeps_trying(redis_server: RedisServer) -> None:
    redis_server.stop()
    hub = RedisHub(redis_server.url, instance_id="early")
    other = RedisHub(redis_server.url, instance_id="other")
    try:
        started = time.monotonic()
        await hub.start()
        assert time.monotonic() - started < 4
        assert not hub.healthy
        async with hub.subscribe("r") as sub:
            await hub.publish(row("r", 1))
            assert await take(sub, 2) == [GAP, row("r", 1)]  # subscribed while down: a gap from the start

            await asyncio.to_thread(redis_server.start)
            await until(lambda: hub.healthy, timeout=10)
            assert await take(sub, 1) == [RESYNC]

            await other.start()
            async with other.subscribe("r") as theirs:
                await hub.publish(row("r", 2))
                assert await take(theirs, 1) == [row("r", 2)]
                assert await take(sub, 1) == [row("r", 2)]
    finally:
        await hub.stop()
        await other.stop()


async def test_rooms_missed_during_a_partial_outage_are_resynced_elsewhere(
    redis_server: RedisServer, plain: aioredis.Redis
) -> None:
    """Only instance a loses Redis (its ACL user is switched off); b must still learn what it missed."""
    await plain.execute_command("ACL", "SETUSER", "hub_a", "on", ">pw-a", "~*", "&*", "+@all")
    a = RedisHub(f"redis://hub_a:pw-a@127.0.0.1:{redis_server.port}/0", instance_id="a")
    b = RedisHub(redis_server.url, instance_id="b")
    await a.start()
    await b.start()
    try:
        async with b.subscribe("hit") as hit, b.subscribe("calm") as calm, a.subscribe("hit"):
            await plain.execute_command("ACL", "SETUSER", "hub_a", "off")
            await plain.execute_command("CLIENT", "KILL", "USER", "hub_a")
            await until(lambda: not a.healthy, timeout=3)
            await a.publish(row("hit", 1))  # b cannot receive this one
            await asyncio.sleep(0.3)  # a few failed reconnects
            assert not a.healthy and b.healthy

            await plain.execute_command("ACL", "SETUSER", "hub_a", "on")
            await until(lambda: a.healthy, timeout=10)
            assert await take(hit, 1) == [Resync(since=row("hit", 1).cursor)]  # re-read from a's first lost row
            assert await quiet(calm) == []
            assert b.reconnects == 0
    finally:
        await a.stop()
        await b.stop()


async def test_malformed_payloads_are_dropped(hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis) -> None:
    a, b = hubs
    junk = [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"i": "x"}',
        json.dumps({"i": "x", "room": "elsewhere", "id": "1", "cursor": "c", "html": "h"}).encode(),
        json.dumps({"i": "x", "room": "r", "id": 1, "cursor": "c", "html": "h"}).encode(),
    ]
    async with b.subscribe("r") as sub:
        for payload in junk:
            await plain.publish("quart-chat:room:r", payload)
        await a.publish(row("r", 1))
        assert await take(sub, 1) == [row("r", 1)]
        assert await quiet(sub) == []
    assert b.dropped_malformed == len(junk)
    assert b.healthy


async def test_stop_flushes_and_closes_cleanly(redis_server: RedisServer, plain: aioredis.Redis) -> None:
    hub = RedisHub(redis_server.url, instance_id="stopper")
    listener = RedisHub(redis_server.url, instance_id="listener")
    await hub.start()
    await listener.start()
    async with listener.subscribe("r") as theirs:
        await hub.publish(row("r", 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await hub.stop()
            gc.collect()
        assert await take(theirs, 1) == [row("r", 1)]  # queued rows were sent before closing
    await listener.stop()
    assert [str(w.message) for w in caught] == []
    assert not hub.healthy
    assert asyncio.all_tasks() == {asyncio.current_task()}
    async with asyncio.timeout(5):
        while any(c["name"].startswith("quart-chat:") for c in await plain.client_list()):
            await asyncio.sleep(0.01)


async def test_stop_while_redis_is_down(redis_server: RedisServer) -> None:
    hub = RedisHub(redis_server.url, instance_id="down")
    await hub.start()
    redis_server.stop()
    await until(lambda: not hub.healthy, timeout=3)
    await hub.publish(row("r", 1))
    started = time.monotonic()
    await hub.stop()
    assert time.monotonic() - started < 1.0
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_redact_hides_the_password() -> None:
    assert redact("redis://user:s3cret@cache:6380/1") == "redis://user:***@cache:6380/1"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
