"""Membership's bookkeeping on a real SQLite store and the memory hub: bounded, and quiet when nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_chat import membership
from quart_chat.hub.fanout import Notice
from quart_chat.hub.memory import MemoryHub
from quart_chat.membership import MEMBERS_CHANGED, Members
from quart_chat.places import Place
from quart_chat.store.sqlite import SqliteStore
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
