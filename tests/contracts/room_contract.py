"""The room store's behaviour (directory, memberships, read cursors, unread counts), specified once.

A test module subclasses :class:`RoomContract` and provides a ``store`` fixture that yields an open,
empty store implementing both ``MessageStore`` and ``RoomStore`` (one class does both).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from quart_chat.models import ZERO_CURSOR
from quart_chat.places import conversation_key
from quart_chat.store import Membership, Unread

DM = conversation_key(b"contract-secret", "u1", "u2")


class RoomContract:
    async def test_a_made_room_is_listed_with_its_topic_and_made_once(self, store) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        made = await store.create_room("design", "Pixels and type")
        assert made.name == "design" and made.topic == "Pixels and type"
        assert before <= made.last_active <= datetime.now(UTC) + timedelta(seconds=5)
        again = await store.create_room("design", "Something else")
        assert again.topic == "Pixels and type"  # an existing room is opened, not changed
        assert [r.name for r in await store.rooms(10)] == ["design"]
        assert await store.room("design") == again
        assert await store.room("nowhere") is None

    async def test_a_rooms_first_message_lists_it_and_the_newest_activity_comes_first(self, store) -> None:
        await store.add("older", "u1", "Ada", "first")
        await asyncio.sleep(0.01)
        newest = await store.add("newer", "u1", "Ada", "second")
        listed = await store.rooms(10)
        assert [r.name for r in listed] == ["newer", "older"]
        assert listed[0].topic == "" and listed[0].last_active >= newest.created_at - timedelta(seconds=1)
        assert [r.name for r in await store.rooms(1)] == ["newer"]

    async def test_conversations_are_never_listed(self, store) -> None:
        await store.add(DM, "u1", "Ada", "between us")
        assert await store.rooms(10) == []
        assert await store.room(DM) is None
        assert [m.text for m in await store.latest(DM, 10)] == ["between us"]

    async def test_join_once_list_members_and_leave(self, store) -> None:
        assert await store.join("u1", "general") is True
        assert await store.join("u1", "general") is False  # joined already: kept as it was
        assert await store.join("u2", "general") is True
        assert await store.join("u1", DM, partner="u2") is True
        assert sorted(await store.memberships("u1"), key=lambda m: m.place) == sorted(
            [Membership("u1", "general"), Membership("u1", DM, "u2", ZERO_CURSOR)], key=lambda m: m.place
        )
        assert sorted(m.uid for m in await store.members("general")) == ["u1", "u2"]
        assert await store.members("nowhere") == []
        assert await store.membership("u1", DM) == Membership("u1", DM, "u2", ZERO_CURSOR)
        assert await store.membership("u3", DM) is None
        assert await store.leave("u1", "general") is True
        assert await store.leave("u1", "general") is False  # leaving twice is no error, and no change
        assert [m.place for m in await store.memberships("u1")] == [DM]
        assert [m.uid for m in await store.members("general")] == ["u2"]

    async def test_a_place_left_comes_back_read_as_far_as_it_was(self, store) -> None:
        await store.join("u2", DM, partner="u1")
        first = await store.add(DM, "u1", "Ada", "one")
        await store.mark_read("u2", DM, first.cursor)
        await store.leave("u2", DM)
        await store.mark_read("u2", DM, (await store.add(DM, "u1", "Ada", "two")).cursor)  # not a member: ignored
        assert await store.members(DM) == [] and await store.memberships("u2") == []
        assert await store.membership("u2", DM) is None
        assert await store.join("u2", DM, partner="u1") is True  # back
        assert await store.join("u2", DM, partner="u1") is False
        (back,) = await store.memberships("u2")
        assert back == Membership("u2", DM, "u1", first.cursor)
        assert (await store.unread(back)).count == 1  # "two" is what is new
        assert await store.leave("nobody", DM) is False  # leaving what one never joined is no error, no change

    async def test_unread_counts_what_came_after_the_read_cursor(self, store) -> None:
        await store.join("u2", "general")
        sent = [await store.add("general", "u1", "Ada", f"m{i}") for i in range(5)]
        (mine,) = await store.memberships("u2")
        assert await store.unread(mine) == Unread(5, 0, sent[-1].cursor)
        await store.mark_read("u2", "general", sent[2].cursor)
        (mine,) = await store.memberships("u2")
        assert mine.read_cursor == sent[2].cursor
        assert await store.unread(mine) == Unread(2, 0, sent[-1].cursor)

    async def test_the_read_cursor_only_moves_forward_and_only_for_members(self, store) -> None:
        await store.join("u2", "general")
        sent = [await store.add("general", "u1", "Ada", f"m{i}") for i in range(3)]
        await store.mark_read("u2", "general", sent[2].cursor)
        await store.mark_read("u2", "general", sent[0].cursor)  # an older tab reporting late
        assert [m.read_cursor for m in await store.memberships("u2")] == [sent[2].cursor]
        await store.mark_read("u3", "general", sent[2].cursor)  # not a member: nothing is made
        assert await store.memberships("u3") == []
        with pytest.raises(ValueError):
            await store.mark_read("u2", "general", "not-a-cursor")

    async def test_counts_stop_at_the_cap(self, store) -> None:
        await store.join("u2", "busy")
        sent = [await store.add("busy", "u1", "Ada", f"@bob {i}", mentions=[("bob", "u2")]) for i in range(7)]
        (mine,) = await store.memberships("u2")
        assert await store.unread(mine, cap=5) == Unread(5, 5, sent[-1].cursor)

    async def test_mentions_are_kept_with_the_message_and_counted_apart(self, store) -> None:
        await store.join("u2", "general")
        await store.join("u3", "general")
        plain = await store.add("general", "u1", "Ada", "hello all")
        both = [("bob", "u2"), ("cy", "u3")]
        tagged = await store.add("general", "u1", "Ada", "@bob and @Cy, look", mentions=both)
        assert plain.mentions == () and tagged.mentions == tuple(both)
        assert [m.mentions for m in await store.latest("general", 10)] == [(), tuple(both)]
        assert [m.mentions for m in await store.after("general", plain.cursor, 10)] == [tuple(both)]
        await store.add("general", "u1", "Ada", "@bob again", mentions=[("bob", "u2")])
        bob = Membership("u2", "general")
        cy = Membership("u3", "general")
        assert (await store.unread(bob)).mentions == 2 and (await store.unread(cy)).mentions == 1
        assert (await store.unread(Membership("u2", "general", read_cursor=tagged.cursor))).mentions == 1
        assert (await store.unread(Membership("u4", "general"))).mentions == 0

    async def test_an_empty_place_has_nothing_unread(self, store) -> None:
        assert await store.unread(Membership("u1", "quiet")) == Unread(0, 0, ZERO_CURSOR)

    async def test_a_replayed_add_is_counted_once(self, store) -> None:
        await store.join("u2", "general")
        await store.add("general", "u1", "Ada", "@bob once", message_id="c1", mentions=[("bob", "u2")])
        again = await store.add("general", "u1", "Ada", "@bob once", message_id="c1", mentions=[("bob", "u2")])
        assert again.replayed and again.mentions == (("bob", "u2"),)
        assert await store.unread(Membership("u2", "general")) == Unread(1, 1, again.cursor)

    async def test_a_sidebars_counts_at_once_are_each_places_counts(self, store) -> None:
        for place in ("general", "design", "quiet", DM):
            await store.join("u2", place, partner="u1" if place == DM else "")
        sent = [await store.add("general", "u1", "Ada", f"m{i}") for i in range(4)]
        await store.add("design", "u1", "Ada", "@bob look", mentions=[("bob", "u2")])
        await store.add(DM, "u1", "Ada", "psst")
        await store.mark_read("u2", "general", sent[1].cursor)
        mine = await store.memberships("u2")
        assert await store.unread_many(mine, cap=3) == {m.place: await store.unread(m, cap=3) for m in mine}
        counted = await store.unread_many(mine)
        assert (counted["general"].count, counted["design"].mentions, counted[DM].count) == (2, 1, 1)
        assert counted["quiet"] == Unread(0, 0, ZERO_CURSOR)
        assert await store.unread_many([]) == {}
