"""Opening a SQLite file the way this app needs it: WAL, busy timeout, versioned schema.

Shared by the local identity provider and the SQLite message store, each of
which owns its own file and its own list of migrations.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import aiosqlite

from quart_chat.settings import SettingsError

BUSY_TIMEOUT_MS = 5000


async def connect(path: Path, migrations: Sequence[str]) -> aiosqlite.Connection:
    """Open ``path`` (creating its folder), switch on WAL, and apply pending migrations.

    ``migrations[i]`` takes the schema from version ``i`` to ``i + 1``; the
    applied version lives in a one-row ``schema_version`` table, so several
    processes sharing the file agree on it.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.OperationalError) as exc:
        # The folder is a file, read-only, not ours...: a setting to fix, said in one sentence.
        raise SettingsError(f"CHAT_DATA_DIR cannot hold {path.name}: {exc}.") from None
    try:
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        await _migrate(db, migrations)
    except BaseException:
        await db.close()
        raise
    return db


class SqliteFile:
    """One SQLite file owned by one component: opened with its migrations, closed once.

    Subclasses set ``MIGRATIONS``, say in ``closed_error`` what using it while closed means to
    their callers (a store error, or identity being unavailable), and in ``ERROR`` what a failed
    :meth:`select` raises.
    """

    MIGRATIONS: Sequence[str] = ()
    ERROR: Callable[[str], Exception] = RuntimeError

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self._db = await connect(self.path, self.MIGRATIONS)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def closed_error(self) -> Exception:
        return RuntimeError(f"{self.path.name} is not open")

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise self.closed_error()
        return self._db

    async def select(self, sql: str, params: tuple, what: str) -> Iterable[sqlite3.Row]:
        """The rows of a SELECT; a database failure becomes ``ERROR("could not {what}: ...")``."""
        try:
            return await self.db.execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            raise self.ERROR(f"could not {what}: {exc}") from exc


async def _migrate(db: aiosqlite.Connection, migrations: Sequence[str]) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with db.execute("SELECT version FROM schema_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if row is None:
            await db.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > len(migrations):
            raise RuntimeError(
                f"{db} has schema version {version}, newer than this code knows ({len(migrations)})"
            )
        for script in migrations[version:]:
            for statement in statements(script):
                await db.execute(statement)
        await db.execute("UPDATE schema_version SET version = ?", (len(migrations),))
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise


def statements(script: str) -> Iterator[str]:
    """A migration script's statements, each whole: a trigger's body has semicolons of its own."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                yield pending.strip()
            pending = ""
    if pending.strip(" \t\n;"):
        raise ValueError(f"an incomplete statement in a migration: {pending.strip()[:60]!r}")
