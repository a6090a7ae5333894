"""Who is in which room or conversation, and what they have read: the sidebar's I/O.

The hot path's cost, as chosen: a stored message costs one read of its place's members (from a
short-lived cache, :class:`Members`) and one hub notice for all of them (``notices.unread`` through
``Hub.notify_many``: one publish per thousand members, and one more notice for the mentioned ones),
never a store read or write per member. Each page of the person's keeps its own counts from those notices
(``sidebar.Sidebar``). The counts themselves are never stored: what is stored is each person's read
cursor, moved when they open a place and, while it is open, at most every ``READ_FLUSH`` seconds
(:class:`Reads`, off the sending path); counts are counted from it when a page loads.

A member cache entry lives :data:`MEMBERS_TTL` seconds; joining or leaving forgets it here and, by a
room signal, on every instance serving the place (the instances where its members post). An instance
that serves no socket there (a form post without JavaScript) may miss a new member for that long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from quart_chat import notices
from quart_chat.hub import Hub
from quart_chat.limits import Limiter, Rate
from quart_chat.mentions import mentioned_uids
from quart_chat.models import Message, Profile
from quart_chat.places import Place, is_conversation
from quart_chat.profiles import ProfileStore
from quart_chat.sidebar import Entry
from quart_chat.store import UNREAD_CAP, Membership, RoomStore, StoreError

log = logging.getLogger(__name__)

MEMBERS_TTL = 30.0  # seconds a place's member list is trusted without a signal
MEMBERS_CHANGED = "members"  # the room signal's kind
STOP_WAIT = 2.0  # seconds stop() waits for read cursors still being written


@dataclass(frozen=True, slots=True)
class _Cached:
    until: float
    members: tuple[Membership, ...]


class Members:
    """Each place's members, as this instance last read them."""

    def __init__(
        self, rooms: RoomStore, hub: Hub, *, ttl: float = MEMBERS_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rooms = rooms
        self.hub = hub
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, _Cached] = {}
        # Only while a read of the place is in flight: bumped by each forget meanwhile, so a list read
        # before a join or leave is not kept; dropped with the place's last read (bounded by reads in flight).
        self._generation: dict[str, int] = {}
        self._reading: dict[str, int] = {}  # reads in flight per place
        self.reads = 0  # store reads made (the benchmark and the tests look)
        self._listening = False

    def start(self) -> None:
        if not self._listening:
            self._listening = True
            self.hub.on_signal(self._on_signal)

    async def of(self, place: str) -> tuple[Membership, ...]:
        now = self.clock()
        cached = self._cache.get(place)
        if cached is not None and cached.until > now:
            return cached.members
        generation = self._generation.setdefault(place, 0)
        self._reading[place] = self._reading.get(place, 0) + 1
        try:
            members = tuple(await self.rooms.members(place))
            self.reads += 1
            if self._generation[place] == generation:
                if len(self._cache) > 10_000:
                    self._cache.clear()  # a bound, not a policy: the lists are cheap to read again
                self._cache[place] = _Cached(now + self.ttl, members)
        finally:
            self._reading[place] -= 1
            if not self._reading[place]:
                del self._reading[place], self._generation[place]
        return members

    def forget(self, place: str) -> None:
        """Drop the cached list; a read in flight (begun before the change) will not be kept either."""
        self._cache.pop(place, None)
        if place in self._generation:
            self._generation[place] += 1

    async def changed(self, place: str) -> None:
        """Someone joined or left: forget the list here and on every instance serving the place."""
        self.forget(place)
        await self.hub.signal(place, {"kind": MEMBERS_CHANGED})

    def _on_signal(self, room: str, data: dict[str, str]) -> None:
        if data.get("kind") == MEMBERS_CHANGED:
            self.forget(room)


class Reads:
    """Read cursors written in the background: one write at a time per (person, place), the newest wins.

    Each write also tells the person's other pages (``notices.read``), which reset that place's count.
    """

    def __init__(self, rooms: RoomStore, hub: Hub) -> None:
        self.rooms = rooms
        self.hub = hub
        self._pending: dict[tuple[str, str], str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, uid: str, place: str, cursor: str) -> None:
        """Synchronous, so a socket's clean-up may call it; the write runs in a task."""
        key = (uid, place)
        busy = key in self._pending
        if cursor > self._pending.get(key, ""):
            self._pending[key] = cursor
        if not busy:
            task = asyncio.create_task(self._write(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, key: tuple[str, str]) -> None:
        uid, place = key
        written = ""
        try:
            while (cursor := self._pending.get(key, "")) > written:
                await self.rooms.mark_read(uid, place, cursor)
                await self.hub.notify(uid, notices.read(place, cursor))
                written = cursor
        except (StoreError, ValueError):
            log.warning("read cursor not recorded uid=%s place=%s", uid, place, exc_info=True)
        finally:
            self._pending.pop(key, None)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_WAIT)


# -- joining ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """What bounds a person's rooms: new joins per ``rate`` (on the shared limiter) and at most
    ``max_rooms`` rooms in the sidebar. Each membership costs every message of its room a member to
    tell, and every sidebar load a count. Conversations are exempt from both: a message addressed to
    the person must always reach their sidebar."""

    limiter: Limiter
    rate: Rate
    max_rooms: int


class JoiningTooFast(Exception):
    """The person joined too many new rooms lately; ``wait``: seconds until they may join one more."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"joining too fast; wait {wait:.1f} s")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Visit:
    """A place's page opened: the sidebar to render, and whether the place is in it (False: the cap)."""

    entries: list[Entry]
    joined: bool = True


def rooms_in(memberships: Iterable[Membership]) -> int:
    """The memberships the cap counts: rooms, not conversations."""
    return sum(1 for m in memberships if not is_conversation(m.place))


# -- the sidebar --------------------------------------------------------------------------------


async def entries_for(
    rooms: RoomStore, profiles: ProfileStore, uid: str, memberships: Iterable[Membership], current: str
) -> list[Entry]:
    """The sidebar's entries from the store: rooms by name, then conversations by name.

    Every place but the current one is counted, all at once (``RoomStore.unread_many``; each count is
    bounded by the cap).
    A conversation whose other person has no profile any more is left out.
    """
    mine = list(memberships)
    others = [m for m in mine if m.place != current]
    unread = await rooms.unread_many(others, UNREAD_CAP)  # one query on SQLite, however many places
    partner_uids = {m.partner for m in mine if m.partner}
    partners: dict[str, Profile] = await profiles.get_many(partner_uids) if partner_uids else {}
    entries: list[Entry] = []
    for m in mine:
        u = unread.get(m.place)
        counts = (u.count, u.mentions, u.latest) if u is not None else (0, 0, m.read_cursor)
        if is_conversation(m.place):
            partner = partners.get(m.partner)
            if partner is None:
                continue
            place = Place.conversation(m.place, uid, partner)
            entries.append(Entry(m.place, "dm", place.label, place.path, *counts))
        else:
            entries.append(Entry(m.place, "room", f"#{m.place}", f"/rooms/{m.place}", *counts))
    entries.sort(key=lambda e: (e.kind != "room", e.label.casefold(), e.key))
    return entries


async def visit(
    rooms: RoomStore,
    profiles: ProfileStore,
    members: Members,
    hub: Hub,
    uid: str,
    place: Place,
    newest: str,
    policy: JoinPolicy | None = None,
) -> Visit:
    """A page of ``place`` was opened, showing everything up to ``newest``: join it if new, mark it
    read, tell the person's other pages; the sidebar to render.

    With a ``policy``, a room new to the sidebar is joined only under its cap (else it is shown
    without joining: ``Visit.joined`` False) and within its rate (else :class:`JoiningTooFast`).
    """
    mine = {m.place: m for m in await rooms.memberships(uid)}
    here = mine.get(place.key)
    if here is None:
        if policy is not None and not is_conversation(place.key):
            if rooms_in(mine.values()) >= policy.max_rooms:
                return Visit(await entries_for(rooms, profiles, uid, mine.values(), place.key), joined=False)
            wait = await policy.limiter.take(f"joins:{uid}", policy.rate)
            if wait:
                raise JoiningTooFast(wait)
        partner = place.partner_of(uid)
        if await rooms.join(uid, place.key, partner):
            await members.changed(place.key)
            await hub.notify(uid, notices.joined(place.key))
        here = mine[place.key] = Membership(uid, place.key, partner)
    if newest > here.read_cursor:
        await rooms.mark_read(uid, place.key, newest)
        await hub.notify(uid, notices.read(place.key, newest))
    return Visit(await entries_for(rooms, profiles, uid, mine.values(), place.key))


async def leave(rooms: RoomStore, members: Members, hub: Hub, uid: str, place: Place) -> bool:
    """Take the place off the person's sidebar; only a membership removed is signalled and told."""
    if not await rooms.leave(uid, place.key):
        return False  # not a member (or left already): nothing changed anywhere
    await members.changed(place.key)
    await hub.notify(uid, notices.left(place.key))
    return True


async def after_message(
    rooms: RoomStore, members: Members, hub: Hub, place: Place, message: Message, policy: JoinPolicy | None = None
) -> None:
    """Tell every member's pages of a stored message (one notice for them all); the author, and a conversation's
    other person, become members first if they are not (a conversation appears in their sidebar)."""
    current = await members.of(place.key)
    uids = {m.uid for m in current}
    author = message.author_uid
    newcomers = []
    if author not in uids and await _may_join(rooms, author, place, policy):
        newcomers.append((author, place.partner_of(author)))
    if place.kind == "dm":
        other = place.partner_of(author)
        if other not in uids and other != author:
            newcomers.append((other, author))
    for uid, partner in newcomers:
        if await rooms.join(uid, place.key, partner):
            await hub.notify(uid, notices.joined(place.key))  # their pages read the sidebar again
    if newcomers:
        await members.changed(place.key)
    mentioned = set(mentioned_uids(message.mentions))
    others = [uid for uid in uids if uid != author]
    plain = [uid for uid in others if uid not in mentioned]
    tagged = [uid for uid in others if uid in mentioned]
    # Two notices for the whole room (the mentioned ones' says so), each one frame per chunk of
    # members on the bus: O(1) publishes per message, however many members.
    for group, mentions in ((plain, False), (tagged, True)):
        if group:
            await hub.notify_many(group, notices.unread(place.key, message, mentions))


async def _may_join(rooms: RoomStore, uid: str, place: Place, policy: JoinPolicy | None) -> bool:
    """May posting put the place in the author's sidebar? A conversation always; a room under the cap
    (the post itself is counted by the message rate, so no join rate here)."""
    if policy is None or is_conversation(place.key):
        return True
    return rooms_in(await rooms.memberships(uid)) < policy.max_rooms
