"""Membership's bookkeeping on a real SQLite store and the memory hub: bounded, and quiet when nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from quart_chat import membership, notices
from quart_chat.hub.fanout import Notice
from quart_chat.hub.memory import MemoryHub
from quart_chat.hub.redis import RedisHub
from quart_chat.membership import MEMBERS_CHANGED, Members
from quart_chat.models import ZERO_CURSOR
from quart_chat.places import Place
from quart_chat.profiles.sqlite import SqliteProfiles
from quart_chat.store.sqlite import SqliteStore
from tests.contracts.hub_contract import take
from tests.support.redis_server import RedisServer
from tests.support.resources import opened


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with opened(SqliteStore(tmp_path / "chat.sqlite3")) as opened_store:
        yield opened_store


async def test_members_keeps_no_entry_per_place_once_its_reads_are_done(store: SqliteStore) -> None:
    hub = MemoryHub()
    members = Members(store, hub)
    members.start()
    for n in range(300):
        await store.join("u1", f"room-{n}")
        await members.of(f"room-{n}")
        await members.changed(f"room-{n}")  # a join or leave there
        members.forget(f"other-{n}")  # a signal from another instance, for a place never read here
    assert len(members._generation) == 0  # no generation kept per place ever seen: memory does not grow with places


async def test_a_list_read_before_a_change_is_not_kept(store: SqliteStore) -> None:
    hub = MemoryHub()
    members = Members(store, hub)
    await store.join("u1", "general")
    started, release = asyncio.Event(), asyncio.Event()
    read_members = store.members

    async def slow_members(place: str):
        found = await read_members(place)
        started.set()
        await release.wait()
        return found

    store.members = slow_members  # type: ignore[method-assign]
    reading = asyncio.create_task(members.of("general"))
    await started.wait()
    assert len(members._generation) == 1  # while the read is in flight
    await store.join("u2", "general")
    members.forget("general")  # the change lands while the old list is on its way
    release.set()
    assert [m.uid for m in await reading] == ["u1"]
    assert len(members._generation) == 0
    store.members = read_members  # type: ignore[method-assign]
    assert sorted(m.uid for m in await members.of("general")) == ["u1", "u2"]  # read again, not the stale list


async def test_leaving_a_place_one_is_not_in_neither_signals_nor_notifies(store: SqliteStore) -> None:
    hub = MemoryHub()
    members = Members(store, hub)
    signals: list[tuple[str, dict[str, str]]] = []
    hub.on_signal(lambda room, data: signals.append((room, data)))
    place = Place.room("design")
    async with hub.subscribe("general", person="u1") as pages:
        assert await membership.leave(store, members, hub, "u1", place) is False  # never joined
        assert signals == [] and pages.drain(10) == []
        await store.join("u1", "design")
        assert await membership.leave(store, members, hub, "u1", place) is True
        assert signals == [("design", {"kind": MEMBERS_CHANGED})]
        assert pages.drain(10) == [Notice("u1", {"kind": "left", "place": "design"})]
        assert await membership.leave(store, members, hub, "u1", place) is False  # left already: quiet again
        assert len(signals) == 1 and pages.drain(10) == []


async def publishes(client: aioredis.Redis) -> int:
    """PUBLISH commands Redis has run so far (from every client)."""
    return int((await client.info("commandstats")).get("cmdstat_publish", {}).get("calls", 0))


async def test_a_message_in_a_big_room_costs_a_publish_per_thousand_members_not_per_member(
    store: SqliteStore, redis_server: RedisServer
) -> None:
    members_count = 2_500
    hub = RedisHub(redis_server.url, instance_id="a")
    peer = RedisHub(redis_server.url, instance_id="b")  # where two of the members have a page open
    plain = aioredis.Redis.from_url(redis_server.url)
    await hub.start()
    await peer.start()
    try:
        place = Place.room("crowded")
        await store.db.executemany(
            "INSERT INTO memberships (uid, place, partner, read_cursor, joined_us) VALUES (?, ?, '', ?, 0)",
            [(f"u{n}", place.key, ZERO_CURSOR) for n in range(members_count)],
        )
        await store.db.commit()
        message = await store.add(place.key, "u0", "Ada", "hello @u7", mentions=[("u7", "u7")])
        members = Members(store, hub)
        async with (
            peer.subscribe("elsewhere", person="u7") as mentioned,
            peer.subscribe("other", person="u2") as plain_page,
        ):
            before = await publishes(plain)
            deepest = 0
            real_put = hub.outbox.put

            def put(*args, **kwargs) -> None:
                nonlocal deepest
                real_put(*args, **kwargs)
                deepest = max(deepest, len(hub.outbox))

            hub.outbox.put = put  # type: ignore[method-assign]
            await membership.after_message(store, members, hub, place, message)
            await hub.outbox.wait_empty()
            # Two notices (the plain one and the mentioned one's), one frame per 1,000 members each.
            assert await publishes(plain) - before <= 4
            assert deepest <= 4  # the outbox holds a handful, never one entry per member
            assert await take(mentioned, 1) == [Notice("u7", notices.unread(place.key, message, True))]
            assert await take(plain_page, 1) == [Notice("u2", notices.unread(place.key, message, False))]
    finally:
        await plain.aclose()
        await hub.stop()
        await peer.stop()



async def test_a_sidebar_of_many_rooms_is_counted_in_one_sqlite_query(store: SqliteStore, tmp_path: Path) -> None:
    rooms = [f"room-{n:02d}" for n in range(30)]
    for room in rooms:
        await store.join("u2", room)
        await store.add(room, "u1", "Ada", f"hello {room}")
    statements: list[str] = []
    await store.db.set_trace_callback(statements.append)
    async with opened(SqliteProfiles(tmp_path / "people.sqlite3")) as profiles:
        entries = await membership.entries_for(store, profiles, "u2", await store.memberships("u2"), "room-00")
    await store.db.set_trace_callback(None)
    assert [(e.key, e.unread) for e in entries] == [("room-00", 0)] + [(room, 1) for room in rooms[1:]]
    counting = [sql for sql in statements if "COUNT(*)" in sql]
    assert len(counting) == 1  # one query for the 29 counted places, not one (or three) per place
