"""Profiles in SQLite (the embedded default): ``people.sqlite3`` in the data folder.

A file of its own rather than a table in the message store's file: each SQLite file here has
one owner and one list of migrations. The handle is unique under ``COLLATE NOCASE``, so the
database itself refuses a second ``Ada`` beside ``ada``, even with several processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from quart_chat import people, sqlite_db
from quart_chat.models import Profile
from quart_chat.profiles import HandleTaken, ProfileChanges, ProfileError

MIGRATIONS = (
    """
    CREATE TABLE profiles (
        uid TEXT PRIMARY KEY,
        handle TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT NOT NULL,
        colour TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        joined_us INTEGER NOT NULL
    )
    """,
)

_COLUMNS = "uid, handle, display_name, colour, time_zone, joined_us"  # constant: no input reaches the SQL text
_GET_MANY_CHUNK = 500  # below SQLite's limit on bound parameters


def _profile(row: tuple) -> Profile:
    uid, handle, name, colour, zone, joined_us = row
    joined = datetime.fromtimestamp(joined_us // 1_000_000, UTC).replace(microsecond=joined_us % 1_000_000)
    return Profile(uid, handle, name, colour, zone, joined)


class SqliteProfiles(sqlite_db.SqliteFile):
    MIGRATIONS = MIGRATIONS
    ERROR = ProfileError

    def closed_error(self) -> Exception:
        return ProfileError("the profile store is not open")

    async def _fetch(self, sql: str, params: tuple) -> list[Profile]:
        return [_profile(r) for r in await self.select(sql, params, "read profiles")]

    async def get(self, uid: str) -> Profile | None:
        found = await self._fetch(f"SELECT {_COLUMNS} FROM profiles WHERE uid = ?", (uid,))
        return found[0] if found else None

    async def get_many(self, uids: Iterable[str]) -> dict[str, Profile]:
        wanted = list(dict.fromkeys(uids))
        found: dict[str, Profile] = {}
        for start in range(0, len(wanted), _GET_MANY_CHUNK):
            chunk = wanted[start : start + _GET_MANY_CHUNK]
            marks = ",".join("?" * len(chunk))
            for p in await self._fetch(f"SELECT {_COLUMNS} FROM profiles WHERE uid IN ({marks})", tuple(chunk)):
                found[p.uid] = p
        return found

    async def by_handle(self, handle: str) -> Profile | None:
        found = await self._fetch(f"SELECT {_COLUMNS} FROM profiles WHERE handle = ?", (handle,))
        return found[0] if found else None

    async def ensure(self, uid: str, display_name: str) -> Profile:
        existing = await self.get(uid)
        if existing is not None:
            return existing
        joined_us = int(datetime.now(UTC).timestamp() * 1_000_000)
        colour = people.default_colour(uid)
        for handle in people.handle_candidates(display_name):
            try:
                await self.db.execute(
                    "INSERT INTO profiles (uid, handle, display_name, colour, time_zone, joined_us)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING",
                    (uid, handle, display_name, colour, people.DEFAULT_TIME_ZONE, joined_us),
                )
            except sqlite3.IntegrityError:
                continue  # the handle is taken: try the next candidate
            except sqlite3.Error as exc:
                raise ProfileError(f"could not save the profile: {exc}") from exc
            made = await self.get(uid)  # ours, or one another process made first
            if made is not None:
                return made
        raise ProfileError(f"no free handle for {display_name!r}")

    async def update(self, uid: str, changes: ProfileChanges) -> Profile:
        given = changes.given()
        if given:
            sets = ", ".join(f"{column} = ?" for column in given)  # column names from the dict above
            try:
                await self.db.execute(f"UPDATE profiles SET {sets} WHERE uid = ?", (*given.values(), uid))
            except sqlite3.IntegrityError:
                raise HandleTaken(changes.handle) from None
            except sqlite3.Error as exc:
                raise ProfileError(f"could not save the profile: {exc}") from exc
        profile = await self.get(uid)
        if profile is None:
            raise ProfileError(f"no profile for uid {uid!r}")
        return profile
