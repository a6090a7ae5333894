"""The rules of a readable row, pure: who wrote it, whether it continues a group, days and times.

Decided from the store's order alone (a row and the one just before it in its room), so the
room page, "Load older", catch-up and live rows all group and divide the same way. Times are
shown in the viewer's zone; the row keeps the exact instant (UTC) in its ``<time datetime>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quart_chat import people
from quart_chat.models import Message, Profile

GROUP_WINDOW = timedelta(minutes=5)  # consecutive rows by one author this close are one group


@dataclass(frozen=True, slots=True)
class Author:
    """How a row names its author: never an email (only its owner ever sees that)."""

    name: str
    handle: str  # "" for an author with no profile yet (an account from before profiles)
    colour: str  # a key of people.PALETTE: the row's class is ``c-<colour>``

    @classmethod
    def of(cls, profile: Profile) -> Author:
        colour = profile.colour if profile.colour in people.PALETTE else people.default_colour(profile.uid)
        return cls(profile.display_name, profile.handle, colour)


def shown_name(author_name: str) -> str:
    """A stored author name as shown: an old row's email becomes its local part, never the email."""
    return people.name_from_email(author_name) if "@" in author_name else author_name


def author_of(message: Message, profiles: Mapping[str, Profile]) -> Author:
    """The author's current name, handle and colour; the stored name only when there is no profile."""
    profile = profiles.get(message.author_uid)
    if profile is not None:
        return Author.of(profile)
    return Author(shown_name(message.author_name), "", people.default_colour(message.author_uid))


@dataclass(frozen=True, slots=True)
class Row:
    """Everything a row's partial needs but the viewer's zone: rendered once per zone, not per viewer."""

    message: Message
    author: Author
    continues: bool = False  # same author as the previous row, within GROUP_WINDOW: shown compact
    previous_at: datetime | None = None  # the previous row's time (UTC), for the day divider


def continues(previous: Message | None, message: Message) -> bool:
    """Does ``message`` continue ``previous``'s group (one author, at most five minutes later)?"""
    if previous is None or previous.author_uid != message.author_uid:
        return False
    return timedelta(0) <= message.created_at - previous.created_at <= GROUP_WINDOW


def row_after(previous: Message | None, message: Message, author: Author) -> Row:
    return Row(message, author, continues(previous, message), previous.created_at if previous else None)


def rows_of(messages: Iterable[Message], previous: Message | None, profiles: Mapping[str, Profile]) -> list[Row]:
    """Rows in the store's order; ``previous`` is the row just before the first (None: the room's first)."""
    rows = []
    for message in messages:
        rows.append(row_after(previous, message, author_of(message, profiles)))
        previous = message
    return rows


def zone(name: str) -> ZoneInfo:
    """The viewer's zone; an unknown name (never stored by settings, but old data) is UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(people.DEFAULT_TIME_ZONE)


def long_date(day: date) -> str:
    """``Tuesday 3 November 2026`` (English names: the C locale, whatever the machine's)."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def day_label(day: date, today: date) -> str:
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return long_date(day)


@dataclass(frozen=True, slots=True)
class Times:
    """What a row shows of its time, in one viewer's zone."""

    iso: str  # UTC, for <time datetime>
    short: str  # "14:05"
    full: str  # "Sunday 29 November 2026, 14:05 Europe/Paris"
    divider: str | None  # "Today", "Yesterday", a date; None when the day did not change


def times(row: Row, tz: ZoneInfo, today: date) -> Times:
    local = row.message.created_at.astimezone(tz)
    short = f"{local:%H:%M}"
    new_day = row.previous_at is None or row.previous_at.astimezone(tz).date() != local.date()
    return Times(
        iso=row.message.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        short=short,
        full=f"{long_date(local.date())}, {short} {tz.key}",
        divider=day_label(local.date(), today) if new_day else None,
    )


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
