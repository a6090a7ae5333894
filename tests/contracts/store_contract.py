"""The message store's behaviour, specified once and run against every store.

A test module subclasses :class:`StoreContract` and provides a ``store``
fixture that yields an open, empty store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from quart_chat.models import change_cursor, make_cursor
from quart_chat.store import ChatStore, MessageStore, StoreError


class StoreContract:
    async def test_add_returns_the_stored_message_with_server_time(self, store: MessageStore) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        msg = await store.add("general", "u1", "ada@example.com", "Hello, world!")
        after = datetime.now(UTC) + timedelta(seconds=5)
        assert msg.id and msg.room == "general" and msg.author_uid == "u1"
        assert msg.author_name == "ada@example.com" and msg.text == "Hello, world!"
        assert msg.created_at.tzinfo is not None
        assert before <= msg.created_at <= after
        assert await store.latest("general", 10) == [msg]

    async def test_latest_is_oldest_first_and_limited(self, store: MessageStore) -> None:
        sent = [await store.add("general", "u1", "a", f"m{i}") for i in range(7)]
        latest = await store.latest("general", 3)
        assert [m.text for m in latest] == ["m4", "m5", "m6"]
        assert latest == sent[4:]

    async def test_rooms_are_separate(self, store: MessageStore) -> None:
        await store.add("a", "u1", "x", "in a")
        await store.add("b", "u1", "x", "in b")
        assert [m.text for m in await store.latest("a", 10)] == ["in a"]
        assert [m.text for m in await store.latest("b", 10)] == ["in b"]
        assert await store.latest("empty", 10) == []

    async def test_order_is_server_time_then_id_and_cursors_sort_the_same(self, store: MessageStore) -> None:
        sent = [await store.add("r", "u", "x", str(i)) for i in range(20)]
        stored = await store.latest("r", 100)
        assert [m.text for m in stored] == [str(i) for i in range(20)]
        keys = [(m.created_at, m.id) for m in stored]
        assert keys == sorted(keys)
        assert [m.cursor for m in stored] == sorted(m.cursor for m in stored)
        assert len({m.id for m in sent}) == 20

    async def test_concurrent_adds_all_land_once_in_one_order(self, store: MessageStore) -> None:
        sent = await asyncio.gather(*(store.add("r", f"u{i % 3}", "x", f"c{i}") for i in range(30)))
        stored = await store.latest("r", 100)
        assert sorted(m.text for m in stored) == sorted(m.text for m in sent)
        assert len(stored) == 30
        assert [m.cursor for m in stored] == sorted(m.cursor for m in stored)

    async def test_before_pages_backwards_by_cursor(self, store: MessageStore) -> None:
        for i in range(12):
            await store.add("r", "u", "x", f"m{i:02d}")
        page = await store.latest("r", 5)
        seen = [m.text for m in page]
        while page:
            page = await store.before("r", page[0].cursor, 5)
            seen = [m.text for m in page] + seen
        assert seen == [f"m{i:02d}" for i in range(12)]

    async def test_after_pages_forwards_by_cursor(self, store: MessageStore) -> None:
        sent = [await store.add("r", "u", "x", f"m{i}") for i in range(6)]
        assert [m.text for m in await store.after("r", sent[2].cursor, 10)] == ["m3", "m4", "m5"]
        assert [m.text for m in await store.after("r", sent[2].cursor, 2)] == ["m3", "m4"]
        assert await store.after("r", sent[-1].cursor, 10) == []

    async def test_after_a_cursor_older_than_everything_returns_from_the_start(self, store: MessageStore) -> None:
        await store.add("r", "u", "x", "first")
        zero = make_cursor(datetime(2000, 1, 1, tzinfo=UTC), "0")
        assert [m.text for m in await store.after("r", zero, 10)] == ["first"]

    async def test_bad_cursor_is_a_value_error(self, store: MessageStore) -> None:
        with pytest.raises(ValueError):
            await store.after("r", "not-a-cursor", 10)

    async def test_only_cursors_it_made_are_valid_and_others_never_reach_a_query(self, store: MessageStore) -> None:
        """Issue 12: a cursor of the right outline but not this store's (an id of letters, one too big
        for SQLite, a Firestore-shaped one) was a 500 from the query; ``valid_cursor`` says so first."""
        sent = await store.add("r", "u", "x", "only")
        zero = make_cursor(datetime(1970, 1, 1, tzinfo=UTC), "0")
        assert store.valid_cursor(sent.cursor) and store.valid_cursor(zero)
        at = sent.created_at
        others = [
            make_cursor(at, "abc"),  # neither a rowid nor a document id
            make_cursor(at, "9" * 20),  # past SQLite's 64-bit rowids
            make_cursor(at, "-1"),
            make_cursor(at, "\u00b2"),  # a superscript two
            make_cursor(at, "0042"),  # no store writes leading zeros
            make_cursor(at, "a" * 31),
            "not-a-cursor",
        ]
        for cursor in others:
            assert not store.valid_cursor(cursor), cursor
            for read in (store.before, store.after):
                with pytest.raises(ValueError):
                    await read("r", cursor, 10)

    async def test_retried_add_with_the_same_id_lands_once(self, store: MessageStore) -> None:
        first = await store.add("r", "u", "x", "once", message_id="client-abc")
        again = await store.add("r", "u", "x", "once", message_id="client-abc")
        assert again == first
        assert not first.replayed and again.replayed  # so the caller does not broadcast it twice
        assert [m.text for m in await store.latest("r", 10)] == ["once"]

    async def test_text_is_kept_exactly(self, store: MessageStore) -> None:
        text = "<script>alert('x')</script> & 'quotes' \"double\" émoji 🎉\nsecond line"
        msg = await store.add("r", "u", "x", text)
        assert (await store.latest("r", 1))[0].text == text == msg.text

    async def test_ping_answers_while_open_and_fails_once_closed(self, store: MessageStore) -> None:
        """What /healthz relies on: ping answers while the store is reachable, else StoreError."""
        assert await store.ping() is None
        await store.close()
        with pytest.raises(StoreError):
            await store.ping()


class EditContract:
    """Edits and deletions (issue 10): a new version of the same row, its author's alone."""

    async def test_an_edit_replaces_the_text_in_place_and_marks_it(self, store: MessageStore) -> None:
        first = await store.add("r", "u1", "ada", "helo")
        later = await store.add("r", "u2", "bob", "hi")
        edited = await store.edit("r", first.id, "u1", "hello")
        assert edited is not None and edited.text == "hello" and edited.edited and not edited.deleted
        assert edited.id == first.id and edited.cursor == first.cursor  # same place in the order
        assert edited.version > max(first.version, 0) and edited.changed_at is not None
        assert [m.text for m in await store.latest("r", 10)] == ["hello", "hi"]
        assert await store.get("r", first.id) == edited
        assert (await store.get("r", later.id)) == later

    async def test_nobody_else_can_edit_or_delete_and_nothing_changes(self, store: MessageStore) -> None:
        msg = await store.add("r", "u1", "ada", "mine")
        assert await store.edit("r", msg.id, "u2", "theirs") is None
        assert await store.delete("r", msg.id, "u2") is None
        assert await store.edit("other", msg.id, "u1", "elsewhere") is None  # an id of another place
        assert await store.get("r", msg.id) == msg
        assert await store.changes("r", 0, 10) == []

    async def test_a_deletion_erases_the_text_and_mentions_but_keeps_the_row(self, store: MessageStore) -> None:
        msg = await store.add("r", "u1", "ada", "secret @bob", mentions=[("bob", "u2")])
        gone = await store.delete("r", msg.id, "u1")
        assert gone is not None and gone.deleted and gone.text == "" and gone.mentions == ()
        stored = await store.latest("r", 10)
        assert [(m.id, m.text, m.deleted) for m in stored] == [(msg.id, "", True)]
        assert await store.edit("r", msg.id, "u1", "back again") is None  # deleted stays deleted
        assert await store.delete("r", msg.id, "u1") is None
        assert (await store.get("r", msg.id)) == gone

    async def test_unknown_and_foreign_ids_are_none_not_errors(self, store: MessageStore) -> None:
        await store.add("r", "u1", "ada", "x")
        for bad in ("", "nope", "1; DROP TABLE messages", "9" * 40, "f" * 32, "999999", "../x"):
            assert await store.get("r", bad) is None
            assert await store.edit("r", bad, "u1", "y") is None
            assert await store.delete("r", bad, "u1") is None

    async def test_changes_since_a_cursor_are_in_change_order(self, store: MessageStore) -> None:
        a = await store.add("r", "u1", "ada", "a")
        b = await store.add("r", "u1", "ada", "b")
        page = change_cursor(await store.latest("r", 10))  # what a page made now carries
        await store.edit("r", b.id, "u1", "b2")
        await store.delete("r", a.id, "u1")
        await store.edit("elsewhere-not", b.id, "u1", "nothing")
        changed = await store.changes("r", page, 10)
        assert [(m.id, m.text, m.deleted) for m in changed] == [(b.id, "b2", False), (a.id, "", True)]
        assert changed[0].version < changed[1].version
        assert await store.changes("r", changed[0].version, 10) == changed[1:]
        assert await store.changes("r", changed[1].version, 10) == []
        assert await store.changes("r", page, 1) == changed[:1]
        assert await store.changes("other", 0, 10) == []

    async def test_a_change_is_past_every_page_read_before_it(self, store: MessageStore) -> None:
        old = await store.add("r", "u1", "ada", "old")
        for i in range(3):
            await store.add("r", "u2", "bob", f"new {i}")
        page = change_cursor(await store.latest("r", 10))
        edited = await store.edit("r", old.id, "u1", "old, edited")
        assert edited is not None and edited.version > page

    async def test_concurrent_edits_each_land_and_the_last_version_wins(self, store: MessageStore) -> None:
        msg = await store.add("r", "u1", "ada", "v0")
        results = await asyncio.gather(*(store.edit("r", msg.id, "u1", f"v{i}") for i in range(1, 6)))
        assert all(r is not None for r in results)
        versions = sorted(r.version for r in results if r is not None)
        assert len(set(versions)) == 5
        stored = await store.get("r", msg.id)
        assert stored is not None and stored.version == versions[-1]
        assert stored.text == next(r.text for r in results if r is not None and r.version == versions[-1])

    async def test_unread_mentions_follow_the_edit_and_the_deletion(self, store: ChatStore) -> None:
        await store.join("u2", "r")
        membership = await store.membership("u2", "r")
        assert membership is not None
        msg = await store.add("r", "u1", "ada", "hi @bob", mentions=[("bob", "u2")])
        assert (await store.unread(membership)).mentions == 1
        await store.edit("r", msg.id, "u1", "hi all")
        assert (await store.unread(membership)).mentions == 0
        await store.edit("r", msg.id, "u1", "hi @bob again", [("bob", "u2")])
        assert (await store.unread(membership)).mentions == 1
        await store.delete("r", msg.id, "u1")
        unread = await store.unread(membership)
        assert unread.mentions == 0 and unread.count == 1  # the row stays, so it still counts as news
