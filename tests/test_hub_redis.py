"""The Redis hub against a real redis-server: the hub contract, then two hubs playing two app instances."""

from __future__ import annotations

import asyncio
import gc
import json
import secrets
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import redis.asyncio as aioredis

from quart_chat.hub.fanout import GAP, RESYNC, Notice, Resync, Subscription
from quart_chat.hub.redis import RedisHub, redact
from quart_chat.hub.wire import channel_for, encode_resync
from tests.contracts.hub_contract import QUEUE_SIZE, Bus, HubContract, Item, OpenBus, row, take, until
from tests.support.redis_server import RedisServer

PROBE_ROOM = "settle-probe"


@pytest.fixture
async def plain(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """An ordinary client, to look at Redis from outside the hubs."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def settle(plain: aioredis.Redis, *hubs: RedisHub) -> None:
    """Return once every row these hubs published has reached every subscriber.

    A barrier through Redis: once a hub's outbox is empty, Redis has every PUBLISH it sent, and a
    marker published after that reaches each hub's one pub/sub connection after all of them.
    """
    token = secrets.token_hex(4)
    async with AsyncExitStack() as stack:
        probes = [await stack.enter_async_context(hub.subscribe(PROBE_ROOM)) for hub in hubs]
        await until(lambda: not any(len(hub.outbox) for hub in hubs))
        await plain.publish(channel_for(PROBE_ROOM), encode_resync("probe", PROBE_ROOM, token))
        for probe in probes:
            assert await take(probe, 1) == [Resync(token)]


async def rest(plain: aioredis.Redis, sub: Subscription, *hubs: RedisHub) -> list[Item]:
    """Whatever else was on its way to ``sub`` (expected: nothing)."""
    await settle(plain, *hubs)
    return sub.drain(10_000)


@pytest.fixture
def open_bus(redis_server: RedisServer, plain: aioredis.Redis) -> OpenBus:
    @asynccontextmanager
    async def open_bus(queue_size: int = QUEUE_SIZE) -> AsyncIterator[Bus]:
        a = RedisHub(redis_server.url, queue_size=queue_size, instance_id="a")
        b = RedisHub(redis_server.url, queue_size=queue_size, instance_id="b")
        try:
            await a.start()
            await b.start()
            yield Bus(a, b, lambda: settle(plain, a, b))
        finally:
            await a.stop()
            await b.stop()

    return open_bus


class TestRedisHub(HubContract):
    """The contract with two instances on one redis-server."""


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


async def channels(client: aioredis.Redis) -> list[str]:
    return sorted(c.decode() for c in await client.pubsub_channels("quart-chat:room:*"))


async def test_rooms_are_isolated_across_many_rooms(hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis) -> None:
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
        assert await rest(plain, lonely, a, b) == []
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


async def test_a_persons_channel_is_followed_from_their_first_socket_here_to_their_last(
    hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis
) -> None:
    a, _b = hubs
    person = "quart-chat:person:uid-ada"

    async def people() -> list[str]:
        return sorted(c.decode() for c in await plain.pubsub_channels("quart-chat:person:*"))

    async with a.subscribe("general", person="uid-ada"):
        assert await people() == [person]  # confirmed before subscribe() returns
        async with a.subscribe("random", person="uid-ada"), a.subscribe("random"):
            assert await plain.pubsub_numsub(person) == [(person.encode(), 1)]  # one per instance
        assert await people() == [person]  # her first tab is still open
    async with asyncio.timeout(5):
        while await people() != []:
            await asyncio.sleep(0.01)


async def test_a_persons_channel_comes_back_after_a_redis_restart(
    redis_server: RedisServer, hubs: tuple[RedisHub, RedisHub]
) -> None:
    a, b = hubs
    async with b.subscribe("general", person="uid-ada") as ada:
        redis_server.stop()
        await until(lambda: not a.healthy and not b.healthy, timeout=3)
        await a.notify("uid-ada", {"kind": "lost"})  # dropped while down: the resync re-reads instead
        await asyncio.to_thread(redis_server.start)
        await until(lambda: a.healthy and b.healthy, timeout=10)
        assert await take(ada, 2) == [GAP, RESYNC]
        await a.notify("uid-ada", {"kind": "back"})
        assert await take(ada, 1) == [Notice("uid-ada", {"kind": "back"})]
    assert a.dropped_signals == 1


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


async def test_redis_crash_and_restart_resyncs_every_socket(
    redis_server: RedisServer, hubs: tuple[RedisHub, RedisHub], plain: aioredis.Redis
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
        assert await take(on_b, 1) == [GAP]  # and not row 2: a queues nothing for Redis while down

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
        assert await rest(plain, on_a, a, b) == [] and on_b.drain(100) == []
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
            await until(lambda: a.backoff.attempt >= 3, timeout=5)  # the lost link, then two failed reconnects
            assert not a.healthy and b.healthy

            await plain.execute_command("ACL", "SETUSER", "hub_a", "on")
            await until(lambda: a.healthy, timeout=10)
            assert await take(hit, 1) == [Resync(since=row("hit", 1).cursor)]  # re-read from a's first lost row
            assert await rest(plain, calm, a, b) == []
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
        assert await rest(plain, sub, a, b) == []
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
