"""The SQLite room store: public rooms, memberships with read cursors, unread and mention counts.

Part of :class:`~quart_chat.store.sqlite.SqliteStore` (the same file, so the message triggers keep
``rooms`` and ``mentions`` in step with ``messages``). Read cursors compare as strings: within one
room a message's time strictly grows with its id, so the cursor's string order is the store's order.
Counting is bounded (``LIMIT cap``) and served by indexes, so a person far behind costs no more
than one who is :data:`~quart_chat.store.UNREAD_CAP` behind.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from quart_chat.models import ZERO_CURSOR, make_cursor, parse_cursor
from quart_chat.store import UNREAD_CAP, Membership, Room, StoreError, Unread

_UNREAD = """
SELECT latest.id, latest.created_us,
       (SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room = ?1 AND id > ?2 LIMIT ?3)),
       (SELECT COUNT(*) FROM (SELECT 1 FROM mentions WHERE uid = ?4 AND room = ?1 AND message_id > ?2 LIMIT ?3))
FROM (SELECT 1) LEFT JOIN (SELECT id, created_us FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT 1) AS latest
"""
# Every place of one sidebar in one query: the places and read positions come in as one JSON array.
_UNREAD_MANY = """
WITH wanted(place, after) AS (
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)
)
SELECT wanted.place, latest.id, latest.created_us,
       (SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room = wanted.place AND id > wanted.after LIMIT ?2)),
       (SELECT COUNT(*) FROM (SELECT 1 FROM mentions
                              WHERE uid = ?3 AND room = wanted.place AND message_id > wanted.after LIMIT ?2))
FROM wanted LEFT JOIN messages AS latest
  ON latest.id = (SELECT id FROM messages WHERE room = wanted.place ORDER BY id DESC LIMIT 1)
"""
_MEMBERSHIP = "uid, place, partner, read_cursor"  # constant: no input reaches the SQL text


_ROWID = re.compile(r"0|[1-9][0-9]{0,18}")  # str() of a rowid (0 is the page's "from the start")
_MAX_ROWID = 2**63 - 1


def cursor_id(cursor: str) -> int:
    """The rowid in a cursor this store made; ValueError for any other (never an OverflowError)."""
    _, message_id = parse_cursor(cursor)
    if not _ROWID.fullmatch(message_id) or int(message_id) > _MAX_ROWID:
        raise ValueError(f"not a SQLite message cursor: {cursor[:40]!r}")
    return int(message_id)


def _instant(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


class SqliteRooms:
    """The room store's half of ``SqliteStore`` (which supplies ``db`` and ``select``)."""

    db: Any
    select: Any

    async def _write(self, what: str, sql: str, params: tuple) -> list[Any]:
        try:
            return list(await self.db.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise StoreError(f"could not {what}: {exc}") from exc

    async def create_room(self, name: str, topic: str) -> Room:
        await self._write(
            "make the room",
            "INSERT INTO rooms (name, topic, last_us) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
            (name, topic, _now_us()),
        )
        made = await self.room(name)
        if made is None:
            raise StoreError(f"room {name!r} vanished right after it was made")
        return made

    async def room(self, name: str) -> Room | None:
        found = await self.select("SELECT name, topic, last_us FROM rooms WHERE name = ?", (name,), "read a room")
        return next((Room(n, t, _instant(us)) for n, t, us in found), None)

    async def rooms(self, limit: int) -> list[Room]:
        found = await self.select(
            "SELECT name, topic, last_us FROM rooms ORDER BY last_us DESC, name LIMIT ?", (limit,), "list rooms"
        )
        return [Room(n, t, _instant(us)) for n, t, us in found]

    async def join(self, uid: str, place: str, partner: str = "") -> bool:
        # A place left before comes back with its read cursor: what is new is what came since.
        made = await self._write(
            "join",
            "INSERT INTO memberships (uid, place, partner, read_cursor, joined_us) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (uid, place) DO UPDATE SET left_sidebar = 0 WHERE left_sidebar = 1 RETURNING 1",
            (uid, place, partner, ZERO_CURSOR, _now_us()),
        )
        return bool(made)

    async def leave(self, uid: str, place: str) -> bool:
        left = await self._write(
            "leave",
            "UPDATE memberships SET left_sidebar = 1 WHERE uid = ? AND place = ? AND left_sidebar = 0 RETURNING 1",
            (uid, place),
        )
        return bool(left)

    async def membership(self, uid: str, place: str) -> Membership | None:
        found = await self.select(
            f"SELECT {_MEMBERSHIP} FROM memberships WHERE uid = ? AND place = ? AND left_sidebar = 0",
            (uid, place),
            "read a membership",
        )
        return next((Membership(*row) for row in found), None)

    async def memberships(self, uid: str) -> list[Membership]:
        found = await self.select(
            f"SELECT {_MEMBERSHIP} FROM memberships WHERE uid = ? AND left_sidebar = 0", (uid,), "read memberships"
        )
        return [Membership(*row) for row in found]

    async def members(self, place: str) -> list[Membership]:
        found = await self.select(
            f"SELECT {_MEMBERSHIP} FROM memberships WHERE place = ? AND left_sidebar = 0", (place,), "read members"
        )
        return [Membership(*row) for row in found]

    async def mark_read(self, uid: str, place: str, cursor: str) -> None:
        cursor_id(cursor)  # a bad cursor is a ValueError, as for every read
        await self._write(
            "mark as read",
            "UPDATE memberships SET read_cursor = ?3"
            " WHERE uid = ?1 AND place = ?2 AND read_cursor < ?3 AND left_sidebar = 0",
            (uid, place, cursor),
        )

    async def unread(self, membership: Membership, cap: int = UNREAD_CAP) -> Unread:
        after = cursor_id(membership.read_cursor)
        found = await self.select(_UNREAD, (membership.place, after, cap, membership.uid), "count unread messages")
        latest_id, latest_us, count, mentions = next(iter(found))
        latest = ZERO_CURSOR if latest_id is None else make_cursor(_instant(latest_us), str(latest_id))
        return Unread(count, mentions, latest)

    async def unread_many(self, memberships: Sequence[Membership], cap: int = UNREAD_CAP) -> dict[str, Unread]:
        if not memberships:
            return {}
        uids = {m.uid for m in memberships}
        if len(uids) != 1:
            raise ValueError("unread_many counts one person's memberships")
        wanted = json.dumps([[m.place, cursor_id(m.read_cursor)] for m in memberships])
        found = await self.select(_UNREAD_MANY, (wanted, cap, uids.pop()), "count unread messages")
        counted = {}
        for place, latest_id, latest_us, count, mentions in found:
            latest = ZERO_CURSOR if latest_id is None else make_cursor(_instant(latest_us), str(latest_id))
            counted[place] = Unread(count, mentions, latest)
        return counted
