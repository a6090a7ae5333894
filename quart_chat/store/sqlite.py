"""The SQLite message store (the embedded default): one file, WAL, index on (room, id).

Ids are SQLite rowids, assigned in commit order. ``created_at`` is taken inside
the same write transaction and never goes backwards within a room, so (server
time, id) order and id order agree, and several processes sharing the file
see one order.

The same file holds the room store's tables (``store/sqlite_rooms.py``). Triggers keep what a
message implies in the same transaction as the message, so ``add`` stays one statement: the
room's record and its last activity (public rooms; written at most once a second per room, a read
otherwise), and one ``mentions`` row per person mentioned.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from quart_chat import sqlite_db
from quart_chat.models import Message
from quart_chat.store import StoreError
from quart_chat.store.sqlite_rooms import SqliteRooms
from quart_chat.store.sqlite_rooms import cursor_id as _cursor_id

MIGRATIONS = (
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room TEXT NOT NULL,
        author_uid TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        client_id TEXT UNIQUE
    );
    CREATE INDEX messages_room_id ON messages (room, id)
    """,
    # Rows once stored their author's email as the name: keep only the part before the @
    # (people.name_from_email's rule; "someone" when that part is blank), so no email is kept
    # in a row. New rows store the display name; rows show the author's current profile.
    """
    UPDATE messages SET author_name = COALESCE(
        NULLIF(trim(substr(author_name, 1, instr(author_name, '@') - 1)), ''), 'someone')
    WHERE instr(author_name, '@') > 0
    """,
    # Rooms, memberships and mentions (issue 9). A conversation's key starts with "dm_"
    # (quart_chat.places), which no room name can: conversations get no record and are never listed.
    """
    ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
    CREATE TABLE mentions (
        uid TEXT NOT NULL,
        room TEXT NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (uid, room, message_id)
    ) WITHOUT ROWID;
    CREATE TRIGGER messages_mentions AFTER INSERT ON messages WHEN NEW.mentions != '' BEGIN
        INSERT OR IGNORE INTO mentions (uid, room, message_id)
        SELECT json_extract(value, '$[1]'), NEW.room, NEW.id FROM json_each(NEW.mentions);
    END;
    CREATE TABLE rooms (
        name TEXT PRIMARY KEY,
        topic TEXT NOT NULL DEFAULT '',
        last_us INTEGER NOT NULL
    );
    CREATE INDEX rooms_last_active ON rooms (last_us);
    INSERT INTO rooms (name, last_us)
        SELECT room, MAX(created_us) FROM messages WHERE substr(room, 1, 3) != 'dm_' GROUP BY room;
    CREATE TRIGGER messages_touch_room AFTER INSERT ON messages
    WHEN substr(NEW.room, 1, 3) != 'dm_'
        AND COALESCE((SELECT last_us FROM rooms WHERE name = NEW.room), 0) < NEW.created_us - 1000000
    BEGIN
        INSERT INTO rooms (name, last_us) VALUES (NEW.room, NEW.created_us)
        ON CONFLICT (name) DO UPDATE SET last_us = MAX(last_us, excluded.last_us);
    END;
    CREATE TABLE memberships (
        uid TEXT NOT NULL,
        place TEXT NOT NULL,
        partner TEXT NOT NULL DEFAULT '',
        read_cursor TEXT NOT NULL,
        joined_us INTEGER NOT NULL,
        left_sidebar INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (uid, place)
    ) WITHOUT ROWID;
    CREATE INDEX memberships_place ON memberships (place)
    """,
)

_COLUMNS = "id, room, author_uid, author_name, text, created_us, mentions"  # constant: no input reaches the SQL


_INSERT = """
INSERT INTO messages (room, author_uid, author_name, text, created_us, client_id, mentions)
VALUES (?1, ?2, ?3, ?4,
        MAX(?5, COALESCE((SELECT created_us + 1 FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1), 0)),
        ?6, ?7)
ON CONFLICT (client_id) DO NOTHING
RETURNING id, created_us
"""


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _message(row: tuple) -> Message:
    mid, room, uid, name, text, created_us, mentions = row
    created = datetime.fromtimestamp(created_us // 1_000_000, UTC).replace(
        microsecond=created_us % 1_000_000
    )
    pairs = tuple((str(h), str(u)) for h, u in json.loads(mentions)) if mentions else ()
    return Message(str(mid), room, uid, name, text, created, pairs)


def _mentions_json(mentions: Sequence[tuple[str, str]]) -> str:
    return json.dumps([[handle, uid] for handle, uid in mentions], separators=(",", ":")) if mentions else ""


class SqliteStore(SqliteRooms, sqlite_db.SqliteFile):
    MIGRATIONS = MIGRATIONS
    ERROR = StoreError

    def closed_error(self) -> Exception:
        return StoreError("the message store is not open")

    def valid_cursor(self, cursor: str) -> bool:
        try:
            _cursor_id(cursor)
        except ValueError:
            return False
        return True

    async def add(
        self,
        room: str,
        author_uid: str,
        author_name: str,
        text: str,
        *,
        message_id: str | None = None,
        mentions: Sequence[tuple[str, str]] = (),
    ) -> Message:
        # One statement, so one trip to the database thread: the write lock is taken before the
        # sub-select reads the room's last time, so the time never goes backwards, even with
        # several processes on the file. A known message_id inserts nothing and returns no row.
        # The triggers (see MIGRATIONS) record the room's activity and the mentions with it.
        mentions_json = _mentions_json(mentions)
        try:
            inserted = await self.db.execute_fetchall(
                _INSERT, (room, author_uid, author_name, text, _now_us(), message_id, mentions_json)
            )
            if inserted:
                new_id, created_us = next(iter(inserted))
                return _message((new_id, room, author_uid, author_name, text, created_us, mentions_json))
            existing = await self.db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM messages WHERE client_id = ?", (message_id,)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"could not store the message: {exc}") from exc
        return dataclasses.replace(_message(next(iter(existing))), replayed=True)

    async def _select(self, sql: str, params: tuple) -> list[Message]:
        return [_message(r) for r in await self.select(sql, params, "read messages")]

    async def latest(self, room: str, limit: int) -> list[Message]:
        rows = await self._select(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?", (room, limit)
        )
        rows.reverse()
        return rows

    async def before(self, room: str, cursor: str, limit: int) -> list[Message]:
        rows = await self._select(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (room, _cursor_id(cursor), limit),
        )
        rows.reverse()
        return rows

    async def after(self, room: str, cursor: str, limit: int) -> list[Message]:
        return await self._select(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND id > ? ORDER BY id ASC LIMIT ?",
            (room, _cursor_id(cursor), limit),
        )

    async def ping(self) -> None:
        try:
            async with self.db.execute("SELECT 1") as cur:
                await cur.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the message store is unreachable: {exc}") from exc
