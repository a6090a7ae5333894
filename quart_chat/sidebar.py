"""A page's sidebar as state: the person's rooms and conversations, what is unread in each. Pure.

The counts start from the store (``Unread``: counted up to the place's newest message then, its
``latest``) and rise with the ``unread`` notices of later messages, so a message is counted once
whether the store read or the notice saw it first: a notice for a message at or before ``latest``
is already in the count. A ``read`` notice (another page or device read the place) takes away
what it covers; if it reaches back before ``latest`` the split is unknown and the sidebar is read
again. So is anything that changes the list itself (``joined``, ``left``) or may have been missed
(a hub resync); news of a place it does not list is ignored (one that joins comes with ``joined``).
The current place is being read: it always shows 0 and its notices are ignored.

``Sidebar`` also follows what its page has shown of the current place (``read_to``), so the shell
can record the read cursor at most every :data:`READ_FLUSH` seconds (``take_read``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from quart_chat import notices
from quart_chat.models import ZERO_CURSOR
from quart_chat.places import dom_id
from quart_chat.store import UNREAD_CAP

READ_FLUSH = 2.0  # seconds between two read-cursor writes of one page while rows keep coming
SITE = "quart-chat"


def badge(count: int) -> str:
    """A count as its badge shows it: ``99+`` from the cap on."""
    return f"{UNREAD_CAP - 1}+" if count >= UNREAD_CAP else str(count)


def page_title(label: str, unread: int) -> str:
    """``(3) #general · quart-chat``: the page's title, with what is unread elsewhere."""
    return f"({badge(unread)}) {label} · {SITE}" if unread else f"{label} · {SITE}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One link in the sidebar, as rendered."""

    key: str  # the place's key
    kind: Literal["room", "dm"]
    label: str  # "#general", or the other person's name
    path: str  # /rooms/general, /dm/ada
    unread: int = 0
    mentions: int = 0
    latest: str = ZERO_CURSOR  # the store counted up to here

    @property
    def dom_id(self) -> str:
        return dom_id(self.key)

    @property
    def shown_unread(self) -> str:
        return badge(self.unread)

    @property
    def shown_mentions(self) -> str:
        return badge(self.mentions)


@dataclass(slots=True)
class _Count:
    """An entry's count: the store's part up to ``latest``, and what notices added after it."""

    entry: Entry
    base: int
    base_mentions: int
    latest: str
    later: dict[str, bool] = field(default_factory=dict)  # cursor -> mentions the person

    def unread(self) -> int:
        return min(UNREAD_CAP, self.base + len(self.later))

    def mentions(self) -> int:
        return min(UNREAD_CAP, self.base_mentions + sum(self.later.values()))


class Sidebar:
    """One page's sidebar: entries by key, what changed since the last frame, the read cursor to record."""

    def __init__(self, *, viewer: str, current: str, label: str, path: str) -> None:
        self.viewer = viewer
        self.current = current  # the place the page shows (always read)
        self.label = label
        self.path = path  # the page's own address (the leave forms come back to it)
        self._counts: dict[str, _Count] = {}
        self.reload_needed = True  # the page's socket reads it from the store first
        self._full = False  # render the whole sidebar next frame
        self._changed: dict[str, None] = {}  # keys whose link to re-render, in order
        self._title_sent: str | None = None
        self._read_to = ZERO_CURSOR  # the newest row of the current place the page was sent
        self._read_recorded = ZERO_CURSOR
        self._read_at: float | None = None

    # -- from the store ----------------------------------------------------------------------

    def loaded(self, entries: Iterable[Entry]) -> None:
        """The whole sidebar, just read from the store (in the order shown)."""
        self._counts = {e.key: _Count(e, e.unread, e.mentions, e.latest) for e in entries}
        self.reload_needed = False
        self._full = True
        self._changed.clear()

    # -- notices ------------------------------------------------------------------------------

    def noticed(self, data: Mapping[str, str]) -> None:
        kind, place = data.get("kind"), data.get("place", "")
        if kind in (notices.JOINED, notices.LEFT):
            self.reload_needed = True
            return
        if place == self.current:
            return  # being read here
        count = self._counts.get(place)
        cursor = data.get("cursor", "")
        if count is None or not cursor:
            # Not listed (left, or a sender's member list not yet forgotten): a place that joins the
            # sidebar comes with its own ``joined`` notice, so nothing is missed by ignoring it.
            return
        if kind == notices.UNREAD:
            if data.get("author") == self.viewer or cursor <= count.latest or cursor in count.later:
                return  # one's own message, or already counted
            if len(count.later) < UNREAD_CAP:
                count.later[cursor] = data.get("mention") == "1"
            self._changed[place] = None
        elif kind == notices.READ:
            if cursor < count.latest:
                self.reload_needed = True  # read up to a point inside the store's count
                return
            count.base = count.base_mentions = 0
            count.latest = cursor
            count.later = {c: m for c, m in count.later.items() if c > cursor}
            self._changed[place] = None

    def resynced(self) -> None:
        """The hub may have lost notices: read the counts again."""
        self.reload_needed = True

    # -- what the page was sent of the current place ----------------------------------------------

    def read_to(self, cursor: str) -> None:
        if cursor > self._read_to:
            self._read_to = cursor

    def take_read(self, now: float, *, final: bool = False) -> str | None:
        """The read cursor to record now (at most every READ_FLUSH s unless ``final``), or None."""
        if self._read_to <= self._read_recorded:
            return None
        if not final and self._read_at is not None and now - self._read_at < READ_FLUSH:
            return None
        self._read_recorded, self._read_at = self._read_to, now
        return self._read_recorded

    # -- what to render -------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        return [self._entry(c) for c in self._counts.values()]

    def _entry(self, count: _Count) -> Entry:
        if count.entry.key == self.current:
            return Entry(count.entry.key, count.entry.kind, count.entry.label, count.entry.path)
        e = count.entry
        return Entry(e.key, e.kind, e.label, e.path, count.unread(), count.mentions(), count.latest)

    def unread_elsewhere(self) -> int:
        return sum(self._entry(c).unread for k, c in self._counts.items() if k != self.current)

    def title(self) -> str:
        return page_title(self.label, self.unread_elsewhere())

    def take_changes(self) -> tuple[list[Entry] | None, list[Entry], str | None]:
        """(the whole sidebar, or None), (the links to re-render), (the new title, or None); then clears them."""
        if not self._full and not self._changed:
            return None, [], None  # the usual frame: rows only
        whole = self.entries() if self._full else None
        links = [] if self._full else [self._entry(self._counts[k]) for k in self._changed if k in self._counts]
        title = self.title()
        new_title = title if title != self._title_sent and (whole is not None or links) else None
        if new_title is not None:
            self._title_sent = title
        self._full = False
        self._changed.clear()
        return whole, links, new_title
