"""What was said, and where: the message store and room store protocols the web layer talks to.

Two implementations of both, one class each: ``sqlite`` (aiosqlite, WAL, the embedded default) and
``firestore`` (firebase-admin's async client). Both order a room by (server time, id) and page by
cursor, never by offset. The room store keeps what the directory and the sidebar need: public rooms,
who joined which room or conversation (a *place*, see ``quart_chat.places``) and how far each person
has read there, from which the unread and mention counts are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from quart_chat.models import ZERO_CURSOR, Message

UNREAD_CAP = 100  # counts stop here (shown as "99+"): counting is bounded however far behind one is


class StoreError(Exception):
    """The store could not do what was asked; nothing was acknowledged."""


class MessageStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

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
        """Store a message with a server timestamp and return it as stored.

        ``message_id``, when given, makes a retried add land once: adding the
        same id again returns the stored message unchanged, marked ``replayed``.
        ``mentions`` are the (handle, uid) pairs it mentions, kept with it and counted per person.
        A message in a public room also makes the room's record (it is then listed) or marks it active.
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

    async def get(self, room: str, message_id: str) -> Message | None:
        """The message as stored now (a deleted one too), or None: unknown here, or not an id of this store."""
        ...

    async def edit(
        self, room: str, message_id: str, author_uid: str, text: str, mentions: Sequence[tuple[str, str]] = ()
    ) -> Message | None:
        """Replace the text (and mentions) of the author's message, if it is still there; else None.

        One conditional write: it changes nothing of anyone else's message, nor of a deleted one.
        The new version's ``changed_at`` is later than every message and change stored in the place
        before it (see ``models.change_cursor``).
        """
        ...

    async def delete(self, room: str, message_id: str, author_uid: str) -> Message | None:
        """Delete the author's message: its text and mentions are erased from the store, a row stays
        ("message deleted") so history keeps its order. Returns that row; None as for :meth:`edit`."""
        ...

    async def changes(self, room: str, since: int, limit: int) -> list[Message]:
        """Up to ``limit`` messages edited or deleted after ``since`` (microseconds), oldest change first."""
        ...

    async def ping(self) -> None:
        """Raise :class:`StoreError` unless the store can serve."""
        ...


@dataclass(frozen=True, slots=True)
class Room:
    """A public room's record, as the directory lists it."""

    name: str
    topic: str
    last_active: datetime  # UTC: about when its newest message came, or when it was made


@dataclass(frozen=True, slots=True)
class Membership:
    """One person's place in their sidebar: a room they opened or posted in, or a conversation."""

    uid: str
    place: str  # the room name or the conversation key
    partner: str = ""  # a conversation's other person (the uid itself for notes to self); "" for a room
    read_cursor: str = ZERO_CURSOR  # everything up to here has been read


@dataclass(frozen=True, slots=True)
class Unread:
    """What is new for one person in one place, counted at one moment."""

    count: int  # messages after the read cursor, at most UNREAD_CAP
    mentions: int  # of those, the ones that mention the person (at most UNREAD_CAP)
    latest: str  # the place's newest message's cursor then (ZERO_CURSOR if none): later news counts on top


class RoomStore(Protocol):
    async def create_room(self, name: str, topic: str) -> Room:
        """Make a public room, or return the existing one unchanged (its topic is kept)."""
        ...

    async def room(self, name: str) -> Room | None:
        """A public room's record (a room gets one when it is made or on its first message)."""
        ...

    async def rooms(self, limit: int) -> list[Room]:
        """The public rooms, the most recently active first."""
        ...

    async def join(self, uid: str, place: str, partner: str = "") -> bool:
        """Add the place to the person's sidebar; False if it was there already.

        New, it is read up to nothing yet; back after :meth:`leave`, read as far as it was then.
        """
        ...

    async def leave(self, uid: str, place: str) -> bool:
        """Take it off the person's sidebar, keeping how far they read (a new message in a
        conversation, or opening the place again, puts it back); False if it was not there
        (never joined, or left already), so that only a real change is signalled."""
        ...

    async def membership(self, uid: str, place: str) -> Membership | None:
        """The person's membership of one place, if it is in their sidebar."""
        ...

    async def memberships(self, uid: str) -> list[Membership]:
        """The person's rooms and conversations, in no particular order."""
        ...

    async def members(self, place: str) -> list[Membership]:
        """Everyone who has the place in their sidebar."""
        ...

    async def mark_read(self, uid: str, place: str, cursor: str) -> None:
        """Move the person's read cursor forward to ``cursor`` (never back; nothing if not a member)."""
        ...

    async def unread(self, membership: Membership, cap: int = UNREAD_CAP) -> Unread:
        """Messages after the membership's read cursor, and those mentioning its person, each up to ``cap``."""
        ...


    async def unread_many(self, memberships: Sequence[Membership], cap: int = UNREAD_CAP) -> dict[str, Unread]:
        """:meth:`unread` for each of one person's memberships, by place: a sidebar's counts at once.

        SQLite counts them all in one query; Firestore runs the bounded count aggregations of each,
        a few at a time. Either way each count stops at ``cap``.
        """
        ...


class ChatStore(MessageStore, RoomStore, Protocol):
    """What each implementation is: one class, one database, both protocols."""
