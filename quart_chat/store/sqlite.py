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
from quart_chat.models import Message, from_micros
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
    # Edits and deletions (issue 10): a new version of the same row. ``changed_us`` only grows in a
    # room (see _CHANGE); a deletion erases the text and the mentions, and the trigger keeps the
    # mentions table (unread mention counts) in step with what the row says now.
    """
    ALTER TABLE messages ADD COLUMN changed_us INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_room_changed ON messages (room, changed_us);
    CREATE TRIGGER messages_mentions_changed AFTER UPDATE OF mentions ON messages BEGIN
        DELETE FROM mentions WHERE room = OLD.room AND message_id = OLD.id AND uid IN (
            SELECT json_extract(value, '$[1]')
            FROM json_each(CASE OLD.mentions WHEN '' THEN '[]' ELSE OLD.mentions END));
        INSERT OR IGNORE INTO mentions (uid, room, message_id)
        SELECT json_extract(value, '$[1]'), NEW.room, NEW.id
        FROM json_each(CASE NEW.mentions WHEN '' THEN '[]' ELSE NEW.mentions END);
    END
    """,
)

# A constant: no input reaches the SQL.
_COLUMNS = "id, room, author_uid, author_name, text, created_us, mentions, changed_us, deleted"


_INSERT = """
INSERT INTO messages (room, author_uid, author_name, text, created_us, client_id, mentions)
VALUES (?1, ?2, ?3, ?4,
        MAX(?5, COALESCE((SELECT created_us + 1 FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1), 0)),
        ?6, ?7)
ON CONFLICT (client_id) DO NOTHING
RETURNING id, created_us
"""

# A change's time: now, but past the room's newest message and newest change (several processes,
# clocks apart), read under the write lock the UPDATE holds, so a page's change cursor
# (models.change_cursor) is never passed by an older change. ?1 room, ?2 id, ?3 author, ?4 now.
_CHANGE = """
UPDATE messages SET {set},
    changed_us = MAX(?4,
        COALESCE((SELECT created_us FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1), 0) + 1,
        COALESCE((SELECT MAX(changed_us) FROM messages WHERE room = ?1), 0) + 1)
WHERE room = ?1 AND id = ?2 AND author_uid = ?3 AND deleted = 0
RETURNING {columns}
"""
_EDIT = _CHANGE.format(set="text = ?5, mentions = ?6", columns=_COLUMNS)
_DELETE = _CHANGE.format(set="text = '', mentions = '', deleted = 1", columns=_COLUMNS)


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _message(row: tuple) -> Message:
    mid, room, uid, name, text, created_us, mentions, changed_us, deleted = row
    pairs = tuple((str(h), str(u)) for h, u in json.loads(mentions)) if mentions else ()
    changed = from_micros(changed_us) if changed_us is not None else None
    return Message(str(mid), room, uid, name, text, from_micros(created_us), pairs, changed, bool(deleted))


def _rowid(message_id: str) -> int | None:
    """A message id of this store (a rowid in decimal ASCII), else None: never a failed query."""
    if not (message_id.isascii() and message_id.isdecimal()) or len(message_id) > 18:
        return None
    return int(message_id)


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
                return _message((new_id, room, author_uid, author_name, text, created_us, mentions_json, None, 0))
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

    async def get(self, room: str, message_id: str) -> Message | None:
        rowid = _rowid(message_id)
        if rowid is None:
            return None
        rows = await self._select(f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND id = ?", (room, rowid))
        return rows[0] if rows else None

    async def edit(
        self, room: str, message_id: str, author_uid: str, text: str, mentions: Sequence[tuple[str, str]] = ()
    ) -> Message | None:
        return await self._change(_EDIT, room, message_id, author_uid, text, _mentions_json(mentions))

    async def delete(self, room: str, message_id: str, author_uid: str) -> Message | None:
        return await self._change(_DELETE, room, message_id, author_uid)

    async def _change(self, sql: str, room: str, message_id: str, author_uid: str, *more: str) -> Message | None:
        """One conditional UPDATE (the trigger fixes the mentions in the same statement)."""
        rowid = _rowid(message_id)
        if rowid is None:
            return None
        try:
            changed = await self.db.execute_fetchall(sql, (room, rowid, author_uid, _now_us(), *more))
        except sqlite3.Error as exc:
            raise StoreError(f"could not change the message: {exc}") from exc
        rows = [_message(r) for r in changed]
        return rows[0] if rows else None

    async def changes(self, room: str, since: int, limit: int) -> list[Message]:
        return await self._select(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND changed_us > ? ORDER BY changed_us LIMIT ?",
            (room, since, limit),
        )

    async def ping(self) -> None:
        try:
            async with self.db.execute("SELECT 1") as cur:
                await cur.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the message store is unreachable: {exc}") from exc
