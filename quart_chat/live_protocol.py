"""The live socket's decisions, without I/O: what was sent, what to send next, when to close.

Sans-I/O as python-websockets splits its protocol from its I/O: no asyncio, no Quart, no clock
of its own (whatever depends on time is given ``now``). The shell (``web/live.py``) moves
frames, awaits the store and the identity provider, and feeds what happened back in::

    while core.closing is None:
        need = core.need                      # ReadAfter | ReadLatest | CheckSession | ReadSidebar | None
        ... await it, then core.store_read(rows, previous, profiles) / store_failed() / session_checked(ok, now)
            / sidebar_read(entries)
        out = core.data_to_send()             # one joined frame, or None
        ... record core.read_cursor(now), if any (the viewer read this far)
        ... await sub.wait(core.heartbeat); core.woke(items, now) or close_requested(code, reason)
    send core.closing.fragment, close with core.closing.code

No gap, no duplicate: the shell subscribes to the hub before the first read, and every row
sent is remembered by id (the newest ``REMEMBERED_IDS``), so a row that comes both from the
store and from the hub is sent once; the browser upserts rows by id as a second guard. The
sidebar (``sidebar.Sidebar``) is read after the subscription too, for the same reason: its
counts start from the store and rise with the person's notices.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from quart_chat import notices
from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import Gap, Notice, NoticesLost, Resync
from quart_chat.models import Message, Profile, change_cursor
from quart_chat.people import DEFAULT_TIME_ZONE
from quart_chat.places import Place
from quart_chat.rendering import Renderer, partial, rows_partial
from quart_chat.rows import Row, author_of, row_after, rows_of
from quart_chat.sidebar import Entry, Sidebar

REMEMBERED_IDS = 2048  # ids of rows sent (with the version sent), for de-duplication
RESYNC_LOOKBACK = 64  # a resync re-reads from this many rows back (rows may land out of order)


@dataclass(frozen=True, slots=True)
class ReadAfter:
    """Read up to ``limit`` rows after ``cursor`` (catch-up, resync), and, when ``changes_since`` is
    given, up to ``limit`` rows edited or deleted after that change cursor (``models.change_cursor``)."""

    cursor: str
    limit: int
    changes_since: int | None = None


@dataclass(frozen=True, slots=True)
class ReadLatest:
    """Read the newest ``limit`` rows (a page too far behind gets the latest page instead)."""

    limit: int


@dataclass(frozen=True, slots=True)
class CheckSession:
    """Ask the identity provider whether the session still stands (revocation)."""


@dataclass(frozen=True, slots=True)
class ReadSidebar:
    """Read the viewer's sidebar (memberships, counts) from the store."""


CHECK_SESSION = CheckSession()
READ_SIDEBAR = ReadSidebar()
Need = ReadAfter | ReadLatest | CheckSession | ReadSidebar


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One frame to send, and what the metrics need to know about it."""

    frame: str
    delivered: int  # live rows in it
    stored_at: tuple[float, ...]  # their store times (time.time()), for stored-to-delivered latency


@dataclass(frozen=True, slots=True)
class Closing:
    """How the socket ends: the last fragment (may be empty), then the close code."""

    code: int
    reason: str
    fragment: str = ""


def signed_out(renderer: Renderer, login_href: str, reason: str = "signed out") -> Closing:
    """The one way a socket ends because its session did: say so, then 1008 (htmx stops retrying)."""
    return Closing(Close.POLICY_VIOLATION, reason, renderer.signed_out(login_href))


def retry_later(renderer: Renderer, code: int, reason: str) -> Closing:
    """A close the browser should retry (restart, slow consumer, store down): show "Reconnecting…"."""
    return Closing(code, reason, renderer.status("reconnecting"))


class LiveProtocol:
    """One browser tab in one room, as state: rows sent, the pending frame, timers, the close."""

    def __init__(
        self,
        *,
        room: str,
        after: str,
        renderer: Renderer,
        login_href: str,
        catchup_limit: int,
        page_size: int,
        heartbeat: float,
        revocation_interval: float,
        now: float,
        time_zone: str = DEFAULT_TIME_ZONE,
        session: str = "",
        place: Place | None = None,
        sidebar: Sidebar | None = None,
        csrf: str = "",
        changed: int | None = None,
    ) -> None:
        self.room = room
        self.place = place or Place.room(room)  # where "Load older" and "the beginning" point
        self.sidebar = sidebar  # None: a socket without one (tests of the rows alone)
        self.csrf = csrf  # for the sidebar's leave forms, when it is rendered whole
        self.session = session  # notices.session_id of the socket's session: a sign-out names it
        self.time_zone = time_zone  # the viewer's: every row this socket sends shows times in it
        self.after = after  # the page holds everything up to here
        self.renderer = renderer
        self.login_href = login_href
        self.catchup_limit = catchup_limit
        self.page_size = page_size
        self.heartbeat = heartbeat
        self.revocation_interval = revocation_interval
        self.closing: Closing | None = None
        # message id -> (cursor, version sent), newest last: a row goes out again only as a newer version.
        self._sent: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._gap_from: str | None = None  # where the hub's outage began, for the next resync
        # The newest change this page is known to show (None: a page that carries no change cursor).
        self._changed = changed
        self._read: ReadAfter | ReadLatest | None = ReadAfter(after, catchup_limit + 1, changed)
        self._check_due = False
        self._last_check = now
        self._live_status = renderer.heartbeat()  # the same bytes at every heartbeat: render once
        self._went_live = renderer.status("live")  # once: the badge and the announced "Live"
        self._new_rows = renderer.jump(has_new=True)  # with live rows: "New messages ↓" when scrolled up
        self._last_status = now
        self._status = True  # the first frame says "Live"
        self._announced = False  # has the first frame (the one that announces "Live") gone yet?
        self._rows: list[str] = []
        self._stored_at: list[float] = []
        self._caught_up = ""
        self._changes: list[str] = []  # edited and deleted rows, each replacing its row by id
        self._direct: list[str] = []

    # -- what the shell must do before the next frame ------------------------------------

    @property
    def need(self) -> Need | None:
        """The I/O the next frame waits on (the session first: a revoked user gets nothing more)."""
        if self.closing is not None:
            return None
        if self._check_due:
            return CHECK_SESSION
        if self._read is None and self.sidebar is not None and self.sidebar.reload_needed:
            return READ_SIDEBAR
        return self._read

    def sidebar_read(self, entries: list[Entry]) -> None:
        """The sidebar the last :class:`ReadSidebar` asked for."""
        if self.sidebar is not None:
            self.sidebar.loaded(entries)

    def read_cursor(self, now: float, *, final: bool = False) -> str | None:
        """How far the viewer has now been shown this place, when it is time to record it (else None)."""
        return self.sidebar.take_read(now, final=final) if self.sidebar is not None else None

    def store_read(
        self,
        messages: list[Message],
        previous: Message | None = None,
        profiles: Mapping[str, Profile] | None = None,
        changes: Sequence[tuple[Message, Message | None]] = (),
    ) -> None:
        """The rows the last :class:`ReadAfter` / :class:`ReadLatest` asked for.

        ``previous`` is the row just before the first of a catch-up (grouping and day dividers
        need it; a reset reads one row more instead); ``profiles`` name the rows' authors.
        ``changes``: the rows edited or deleted since the change cursor, each with the row before it.
        """
        read, self._read = self._read, None
        profiles = profiles or {}
        if isinstance(read, ReadLatest):
            latest, has_older = messages[-self.page_size :], len(messages) > self.page_size
            before = messages[-self.page_size - 1] if has_older else None
            self._sent.clear()
            for m in latest:
                self._remember(m.id, m.cursor, m.version)
            if self._changed is not None:
                self._changed = max(self._changed, change_cursor(messages))
            self._caught_up += self.renderer.reset(
                self.place, rows_of(latest, before, profiles), has_older, self.time_zone
            )
            self._shown(latest)
        elif len(messages) > self.catchup_limit or len(changes) > self.catchup_limit:
            self._read = ReadLatest(self.page_size + 1)  # too far behind: the latest page instead
        else:
            rows = [
                r
                for r in rows_of(messages, previous, profiles)
                if self._remember(r.message.id, r.message.cursor, r.message.version)
            ]
            if rows:
                self._caught_up += rows_partial([self.renderer.rows(rows, self.time_zone, path=self.place.path)])
                self._shown(r.message for r in rows)
            for message, before in changes:
                self._changed_row(row_after(before, message, author_of(message, profiles)))

    def store_failed(self) -> None:
        self.closing = retry_later(self.renderer, Close.INTERNAL_ERROR, "history unavailable")

    def session_checked(self, signed_in: bool | None) -> None:
        """The revocation check's answer; ``None`` is "cannot tell", which keeps the socket."""
        self._check_due = False
        if signed_in is False:
            self.closing = signed_out(self.renderer, self.login_href)

    # -- what happened while waiting -------------------------------------------------------

    def woke(self, items: Iterable[Broadcast | Resync | Gap | Notice | NoticesLost | str], now: float) -> None:
        """Items drained from the subscription; none means the wait timed out (idle heartbeat)."""
        # Due on every wake-up, busy or idle: a revoked user in a busy room must not stay
        # connected just because rows keep coming.
        if now - self._last_check >= self.revocation_interval:
            self._last_check = now
            self._check_due = True
        woke_for = 0
        resync, since = False, []
        for item in items:
            woke_for += 1
            if isinstance(item, Broadcast) and item.row.message.version:
                self._changed_row(item.row, item)
            elif isinstance(item, Broadcast):
                if self._remember(item.message_id, item.cursor):
                    self._rows.append(item.html_for(self.time_zone, self.renderer, self.place.path))
                    self._stored_at.append(item.stored_at)
                    if self.sidebar is not None:
                        self.sidebar.read_to(item.cursor)
            elif isinstance(item, Gap):
                self._gap_from = self._gap_from or self._resync_cursor()
            elif isinstance(item, Resync):
                resync = True
                since.append(item.since)
                if self.sidebar is not None:
                    self.sidebar.resynced()  # notices may have been lost too
            elif isinstance(item, Notice):
                self._noticed(item)
            elif isinstance(item, NoticesLost):
                # A burst overflowed the notice buffer: no row was lost, so the socket stays; the
                # sidebar is read whole again, and the session checked now (a sign-out may be gone too).
                if self.sidebar is not None:
                    self.sidebar.resynced()
                self._check_due = True
            else:
                self._direct.append(item)
        if resync:
            cursor = self._resync_cursor(self._gap_from, *since)
            self._read = ReadAfter(cursor, self.catchup_limit + 1, self._changed)
            self._gap_from = None
        if not woke_for or now - self._last_status >= self.heartbeat:
            self._status = True
            self._last_status = now

    def hang_up(self, closing: Closing) -> None:
        """The reader closes the socket (too many frames): its own last fragment and code."""
        if self.closing is None:
            self.closing = closing
    def _noticed(self, notice: Notice) -> None:
        """A notice on the viewer's channel (see ``quart_chat.notices``)."""
        data = notice.data
        signed_off = data.get("kind") == notices.SIGNED_OUT and (
            data.get("scope") == notices.SCOPE_ALL or data.get("session") == self.session != ""
        )
        if signed_off and self.closing is None:  # this session (or all of theirs) ended, on whichever instance
            self.closing = signed_out(self.renderer, self.login_href)
        elif self.sidebar is not None:
            self.sidebar.noticed(data)

    def close_requested(self, code: int, reason: str) -> None:
        """The hub (slow consumer), log-out or shutdown asked this socket to close."""
        if self.closing is None:
            if code == Close.POLICY_VIOLATION:
                self.closing = signed_out(self.renderer, self.login_href, reason)
            else:
                self.closing = retry_later(self.renderer, code, reason)

    # -- the frame --------------------------------------------------------------------------

    def data_to_send(self) -> Outgoing | None:
        """Everything pending, joined into one frame: live rows, catch-up, direct fragments, status."""
        if self.closing is not None or self.need is not None:
            return None
        parts = [rows_partial(self._rows), self._new_rows] if self._rows else []
        if self._caught_up:
            parts.append(self._caught_up)
        parts.extend(self._changes)
        parts.extend(self._direct)
        parts.extend(self._sidebar_parts())
        if self._status:
            parts.append(self._live_status if self._announced else self._went_live)
            self._announced = True
        out = Outgoing("".join(parts), len(self._rows), tuple(self._stored_at)) if parts else None
        self._rows, self._stored_at, self._caught_up, self._direct, self._status = [], [], "", [], False
        self._changes = []
        return out

    def _sidebar_parts(self) -> list[str]:
        """What changed in the sidebar: one link each (or the whole of it after a read), and the title."""
        if self.sidebar is None:
            return []
        whole, links, title = self.sidebar.take_changes()
        current, parts = self.sidebar.current, []
        if whole is not None:
            parts.append(self.renderer.sidebar(whole, current=current, csrf=self.csrf, back=self.sidebar.path))
        parts.extend(self.renderer.sidebar_link(e, current=current) for e in links)
        if title is not None:
            parts.append(self.renderer.title(title))
        return parts

    # -- bookkeeping -----------------------------------------------------------------------

    def _shown(self, messages: Iterable[Message]) -> None:
        if self.sidebar is not None:
            for m in messages:
                self.sidebar.read_to(m.cursor)

    def _changed_row(self, row: Row, broadcast: Broadcast | None = None) -> None:
        """An edited or deleted row: it replaces the page's row of that id, if the page has it.

        A partial aimed at ``#m-<id>``, not an upsert: a change to a row the page does not show
        (older than its first page) must not insert it out of context. Sent only when newer than
        the version this socket sent, so a late original or an older edit never wins.
        """
        message = row.message
        if self._changed is not None:
            self._changed = max(self._changed, message.version)
        if not self._remember(message.id, message.cursor, message.version):
            return
        if broadcast is not None:
            html = broadcast.html_for(self.time_zone, self.renderer, self.place.path)
        else:
            html = self.renderer.row(row, self.time_zone, path=self.place.path)
        self._changes.append(partial(f"#m-{message.id}", html))

    def _remember(self, message_id: str, cursor: str, version: int = 0) -> bool:
        """Record a row as sent; False if this version of it (or a newer one) was sent already."""
        sent = self._sent.get(message_id)
        if sent is not None and sent[1] >= version:
            return False
        self._sent[message_id] = (cursor, version)
        self._sent.move_to_end(message_id)
        if len(self._sent) > REMEMBERED_IDS:
            self._sent.popitem(last=False)
        return True

    def _resync_cursor(self, *earlier: str | None) -> str:
        """Re-read from a little before the latest rows, or from an outage's start if that is earlier."""
        # The newest cursors sent, not the last sent: a changed old row is sent late, out of order.
        recent = heapq.nlargest(RESYNC_LOOKBACK, (cursor for cursor, _ in self._sent.values()))
        start = min([c for c in earlier if c] + recent, default=self.after)
        return max(start, self.after)  # the page holds everything up to its own cursor
