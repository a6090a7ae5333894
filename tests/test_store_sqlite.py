"""The SQLite store: the store contract on a real file, plus WAL, schema version and restart."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_chat import sqlite_db
from quart_chat.store.sqlite import MIGRATIONS, SqliteStore
from tests.contracts.room_contract import RoomContract
from tests.contracts.store_contract import EditContract, StoreContract
from tests.support.resources import opened


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with opened(SqliteStore(tmp_path / "chat.sqlite3")) as s:
        yield s


class TestSqliteRooms(RoomContract):
    """The room store's contract on the message store's own file."""


class TestSqliteStore(StoreContract, EditContract):
    async def test_a_deleted_messages_text_is_not_left_in_the_file(self, store: SqliteStore, tmp_path: Path) -> None:
        secret = "the launch code is 0000-SECRET-0000"
        msg = await store.add("r", "u1", "ada", secret)
        await store.delete("r", msg.id, "u1")
        await store.close()  # the last connection checkpoints the WAL into the file
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("chat.sqlite3"))
        assert secret.encode() not in data

    async def test_file_is_wal_with_a_schema_version_and_room_index(self, store: SqliteStore, tmp_path: Path) -> None:
        with sqlite3.connect(tmp_path / "chat.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]
            indexes = {r[1] for r in db.execute("PRAGMA index_list(messages)")}
        assert "messages_room_id" in indexes

    async def test_old_rows_that_stored_an_email_as_the_name_keep_only_its_local_part(self, tmp_path: Path) -> None:
        path = tmp_path / "old.sqlite3"
        old = await sqlite_db.connect(path, MIGRATIONS[:1])  # a file from before display names
        for n, name in enumerate(("ada@example.com", " @example.com", "Bob", "grace.hopper@navy.mil")):
            await old.execute(
                "INSERT INTO messages (room, author_uid, author_name, text, created_us) VALUES ('r', 'u', ?, 't', ?)",
                (name, n),
            )
        await old.close()
        async with opened(SqliteStore(path)) as store:
            names = [m.author_name for m in await store.latest("r", 10)]
        assert names == ["ada", "someone", "Bob", "grace.hopper"]  # no email is kept in a row

    async def test_a_file_from_before_rooms_lists_its_public_rooms_and_counts_from_then_on(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "old.sqlite3"
        old = await sqlite_db.connect(path, MIGRATIONS[:2])  # a file from before rooms and mentions
        for n, room in enumerate(("general", "general", "random", "dm_" + "0" * 32)):
            await old.execute(
                "INSERT INTO messages (room, author_uid, author_name, text, created_us) VALUES (?, 'u', 'x', 't', ?)",
                (room, (n + 1) * 1_000_000),
            )
        await old.close()
        async with opened(SqliteStore(path)) as store:
            listed = await store.rooms(10)
            assert [(r.name, r.last_active.timestamp()) for r in listed] == [("random", 3.0), ("general", 2.0)]
            assert [m.mentions for m in await store.latest("general", 10)] == [(), ()]
            new = await store.add("general", "u", "x", "@bob", mentions=[("bob", "u2")])
            assert (await store.rooms(1))[0].name == "general" and new.mentions == (("bob", "u2"),)

    async def test_messages_survive_reopening(self, tmp_path: Path) -> None:
        path = tmp_path / "again.sqlite3"
        async with opened(SqliteStore(path)) as first:
            sent = await first.add("r", "u", "x", "kept")
        async with opened(SqliteStore(path)) as second:
            assert await second.latest("r", 5) == [sent]

    async def test_two_connections_to_one_file_share_one_order(self, tmp_path: Path) -> None:
        """Several processes may share the data folder: ids and times stay in one order."""
        import asyncio

        path = tmp_path / "shared.sqlite3"
        async with opened(SqliteStore(path)) as a, opened(SqliteStore(path)) as b:
            await asyncio.gather(*(s.add("r", "u", "x", f"{i}") for i in range(20) for s in (a, b)))
            stored = await a.latest("r", 100)
            assert len(stored) == 40
            assert [m.cursor for m in stored] == sorted(m.cursor for m in stored)
            assert [int(m.id) for m in stored] == sorted(int(m.id) for m in stored)
            assert [m.created_at for m in stored] == sorted(m.created_at for m in stored)
            assert stored == await b.latest("r", 100)

    async def test_ping_fails_when_closed(self, store: SqliteStore) -> None:
        from quart_chat.store import StoreError

        await store.close()
        with pytest.raises(StoreError):
            await store.ping()
