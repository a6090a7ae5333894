"""Plain data shared by every layer: what a message is and who a user is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


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


def make_cursor(created_at: datetime, message_id: str) -> str:
    micros = int(created_at.timestamp() * 1_000_000)
    return f"{micros:017d}-{message_id}"


ZERO_CURSOR = "00000000000000000-0"  # before every message: "nothing read yet", "the page holds nothing"


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of :func:`make_cursor`; raises ValueError on anything else."""
    micros_text, sep, message_id = cursor.partition("-")
    if not sep or not micros_text.isdigit() or len(micros_text) != 17 or not message_id:
        raise ValueError(f"not a message cursor: {cursor[:40]!r}")
    micros = int(micros_text)
    created_at = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(
        microsecond=micros % 1_000_000
    )
    return created_at, message_id


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
