"""Plain data shared by every layer: what a message is and who a user is."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Message:
    """One stored chat message; what others see is always what was stored."""

    id: str
    room: str
    author_uid: str
    author_name: str
    text: str
    created_at: datetime  # server time, timezone-aware UTC
    # Who it mentions, resolved when it was stored: (handle in lower case, uid) pairs (see mentions.py).
    mentions: tuple[tuple[str, str], ...] = ()
    # A later version of the same id (issue 10): set by the store's ``edit`` and ``delete``, a server
    # time that only grows within a place, so "what changed since" is one cursor per place.
    changed_at: datetime | None = None
    deleted: bool = False  # its text and mentions are gone from the store; the row says "message deleted"
    # Set by ``store.add`` alone: True when the add found its ``message_id`` already stored (a
    # re-sent frame), so the caller does not broadcast it again. Not stored and not compared.
    replayed: bool = field(default=False, compare=False, repr=False)

    @property
    def cursor(self) -> str:
        """A string that sorts like the store's order: server time, then id.

        The same string is the paging cursor and the client-side sort key, so
        history and live rows agree on order everywhere.
        """
        return make_cursor(self.created_at, self.id)

    @property
    def version(self) -> int:
        """Which version of the row this is: 0 as sent, then the change's time in microseconds.

        A socket sends a row only when its version is newer than the one it sent, so a late
        original can never overwrite an edit or a deletion (see ``live_protocol``).
        """
        return micros(self.changed_at) if self.changed_at is not None else 0

    @property
    def edited(self) -> bool:
        return self.changed_at is not None and not self.deleted


# What :func:`make_cursor` makes of a stored message: microseconds since 1970 as 17 ASCII digits
# (``[0-9]``, never ``\d``: that would take "²" or "٣"), a dash, then the message id as the stores make
# it: a SQLite rowid in decimal, or a Firestore document id of 32 lower-case hex digits. Each store
# narrows the id further (``MessageStore.valid_cursor``).
CURSOR = re.compile(r"([0-9]{17})-([0-9a-f]{1,32})")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(when: datetime) -> int:
    """Microseconds since 1970, exactly (a float timestamp would round far out)."""
    return (when - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


def make_cursor(created_at: datetime, message_id: str) -> str:
    return f"{micros(created_at):017d}-{message_id}"


def change_cursor(messages: Iterable[Message]) -> int:
    """A page's change cursor: every change made after these rows were read has a later stamp.

    A store stamps a change with a time past every message and change then stored in its place
    (SQLite by ``MAX`` in the write, Firestore by its commit timestamp), so the newest creation or
    change among the rows a page shows is a point no later change can fall behind. Re-sending a
    change from just before it is harmless (rows are replaced by id and version).
    """
    return max((max(micros(m.created_at), m.version) for m in messages), default=0)


ZERO_CURSOR = "00000000000000000-0"  # before every message: "nothing read yet", "the page holds nothing"


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of :func:`make_cursor`; raises ValueError on anything it could not have made."""
    match = CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise ValueError(f"not a message cursor: {str(cursor)[:40]!r}")
    micros = int(match.group(1))  # at most 10**17 - 1 µs: the year 5138, well inside datetime's range
    created_at = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return created_at, match.group(2)


@dataclass(frozen=True, slots=True)
class Identity:
    """A signed-in user as the web layer sees them, whatever the provider."""

    uid: str
    email: str  # the owner's alone: pages show the Profile's name, never this


@dataclass(frozen=True, slots=True)
class Profile:
    """How a person appears to others: never their email (only its owner ever sees that).

    ``handle`` is unique in any letter case and is what tells two people of one name apart;
    ``colour`` is a key of :data:`quart_chat.people.PALETTE`; ``time_zone`` an IANA name.
    """

    uid: str
    handle: str
    display_name: str
    colour: str
    time_zone: str
    joined: datetime  # UTC
