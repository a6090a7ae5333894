"""The SQLite message store (the embedded default): one file, WAL, index on (room, id).

Ids are SQLite rowids, assigned in commit order. ``created_at`` is taken inside
the same write transaction and never goes backwards within a room, so (server
time, id) order and id order agree, and several processes sharing the file
see one order.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from datetime import UTC, datetime

from quart_chat import sqlite_db
from quart_chat.models import Message, parse_cursor
from quart_chat.store import StoreError

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
)

_COLUMNS = "id, room, author_uid, author_name, text, created_us"  # constant: no input reaches the SQL text


_INSERT = """
INSERT INTO messages (room, author_uid, author_name, text, created_us, client_id)
VALUES (?1, ?2, ?3, ?4,
        MAX(?5, COALESCE((SELECT created_us + 1 FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1), 0)),
        ?6)
ON CONFLICT (client_id) DO NOTHING
RETURNING id, created_us
"""


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _message(row: tuple) -> Message:
    mid, room, uid, name, text, created_us = row
    created = datetime.fromtimestamp(created_us // 1_000_000, UTC).replace(
        microsecond=created_us % 1_000_000
    )
    return Message(str(mid), room, uid, name, text, created)


_ROWID = re.compile(r"0|[1-9][0-9]{0,18}")  # str() of a rowid (0 is the page's "from the start")
_MAX_ROWID = 2**63 - 1


def _cursor_id(cursor: str) -> int:
    """The rowid in a cursor this store made; ValueError for any other (never an OverflowError)."""
    _, message_id = parse_cursor(cursor)
    if not _ROWID.fullmatch(message_id) or int(message_id) > _MAX_ROWID:
        raise ValueError(f"not a SQLite message cursor: {cursor[:40]!r}")
    return int(message_id)


class SqliteStore(sqlite_db.SqliteFile):
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
        self, room: str, author_uid: str, author_name: str, text: str, *, message_id: str | None = None
    ) -> Message:
        # One statement, so one trip to the database thread: the write lock is taken before the
        # sub-select reads the room's last time, so the time never goes backwards, even with
        # several processes on the file. A known message_id inserts nothing and returns no row.
        try:
            inserted = await self.db.execute_fetchall(
                _INSERT, (room, author_uid, author_name, text, _now_us(), message_id)
            )
            if inserted:
                new_id, created_us = next(iter(inserted))
                return _message((new_id, room, author_uid, author_name, text, created_us))
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
