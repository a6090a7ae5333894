"""Opening a SQLite file the way this app needs it: WAL, busy timeout, versioned schema.

Shared by the local identity provider and the SQLite message store, each of
which owns its own file and its own list of migrations.
"""

from __future__ import annotations

import asyncio
import os
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
    except OSError as exc:  # the folder is a file, or cannot be made here
        raise SettingsError(
            f"CHAT_DATA_DIR cannot hold {path.name}: {path.parent.absolute()} cannot be a folder ({exc.strerror}); "
            "point CHAT_DATA_DIR at a folder this user can write."
        ) from None
    try:
        # Opened once in plain sqlite3 first: when aiosqlite's own connect fails it leaves its
        # worker thread to finish after the loop has closed, printing a traceback at exit.
        await asyncio.to_thread(lambda: sqlite3.connect(path).close())
        db = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise unusable(path, exc) from None
    try:
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        await _migrate(db, migrations, path)
    except BaseException as exc:
        await db.close()
        if isinstance(exc, OSError | sqlite3.Error):
            raise unusable(path, exc) from None
        raise
    return db


def unusable(path: Path, exc: OSError | sqlite3.Error) -> SettingsError:
    """What is wrong with a SQLite file at start-up and what to do about it, in one sentence.

    The launcher prints it and exits 2, as for a bad setting: a corrupt, unreadable or read-only
    file is the operator's to fix, and a traceback would only hide which file and how.
    """
    file = path.absolute()
    detail = str(exc) if isinstance(exc, sqlite3.Error) else (exc.strerror or str(exc))
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return SettingsError(
            f"{file} is not a usable SQLite database ({detail}); "
            "restore it from a backup, or move it aside to start with an empty one."
        )
    if code.startswith("SQLITE_READONLY"):
        return SettingsError(f"{file} cannot be written ({detail}); make it and its folder writable by this user.")
    if code.startswith("SQLITE_FULL"):
        return SettingsError(f"{file} cannot grow: the disk is full ({detail}); free some space.")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return SettingsError(f"{file} stayed locked by another process ({detail}); stop it, or try again.")
    folder = _folder_problem(file.parent)
    if folder is not None:
        return SettingsError(
            f"{file} cannot be opened ({detail}): CHAT_DATA_DIR ({file.parent}) {folder}; "
            "make it writable by this user, or point CHAT_DATA_DIR at a folder that is."
        )
    return SettingsError(
        f"{file} cannot be opened ({detail}); make sure it is a file this user can read and write, "
        f"in a folder it can write (CHAT_DATA_DIR)."
    )


def _folder_problem(folder: Path) -> str | None:
    """Why SQLite cannot write next to its file (its journal, WAL and shared memory live there), if it is the folder."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "is on a read-only file system"
    except OSError:
        return None
    return None if os.access(folder, os.W_OK | os.X_OK) else "is not writable by this user"


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


async def _migrate(db: aiosqlite.Connection, migrations: Sequence[str], path: Path) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        async with db.execute("SELECT version FROM schema_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if row is None:
            await db.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > len(migrations):
            raise SettingsError(
                f"{path} was written by a newer quart-chat (schema version {version}, this one knows "
                f"{len(migrations)}); run that version, or restore a backup made for this one."
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
