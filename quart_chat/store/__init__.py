"""What was said: the message store protocol the web layer talks to.

Two implementations: ``sqlite`` (aiosqlite, WAL, the embedded default) and
``firestore`` (firebase-admin's async client). Both order a room by
(server time, id) and page by cursor, never by offset.
"""

from __future__ import annotations

from typing import Protocol

from quart_chat.models import Message


class StoreError(Exception):
    """The store could not do what was asked; nothing was acknowledged."""


class MessageStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def add(
        self, room: str, author_uid: str, author_name: str, text: str, *, message_id: str | None = None
    ) -> Message:
        """Store a message with a server timestamp and return it as stored.

        ``message_id``, when given, makes a retried add land once: adding the
        same id again returns the stored message unchanged, marked ``replayed``.
        """
        ...

    def valid_cursor(self, cursor: str) -> bool:
        """Is ``cursor`` one this store could have made (``Message.cursor``)? No I/O.

        ``before`` and ``after`` raise ValueError for any other; a view asks first, so a bad
        cursor from a browser is its 400 (or, on the socket, no cursor) and never a failed read.
        """
        ...

    async def latest(self, room: str, limit: int) -> list[Message]:
        """The newest ``limit`` messages, oldest first."""
        ...

    async def before(self, room: str, cursor: str, limit: int) -> list[Message]:
        """Up to ``limit`` messages older than ``cursor``, oldest first (the page just before it)."""
        ...

    async def after(self, room: str, cursor: str, limit: int) -> list[Message]:
        """Up to ``limit`` messages newer than ``cursor``, oldest first."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the store can serve."""
        ...
