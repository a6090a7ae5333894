"""Local fan-out: bounded per-connection queues, shared by every hub.

Trade-off (see websockets' "broadcast" notes): a broadcast must never wait for
the slowest reader, so ``offer`` is synchronous and O(1). A connection whose
queue is full is a slow consumer: it is marked to close with 1013 (try again
later) and catches up from the store when its browser reconnects. Memory per
connection is therefore bounded by ``maxsize`` rows.

A connection hears one room, and may also follow one person: that person's
:class:`Notice` items (sidebar counts, sign-out) come into a buffer of their own beside
the row queue, so one writer task still serves the whole socket. The buffer is small
(:data:`NOTICE_BUFFER`) and its overflow never closes the socket: no row was lost, only
sidebar news, which the store can tell again. It is dropped and the next drain says
:data:`NOTICES_LOST`, on which the page reads its whole sidebar again (and checks its
session at once, since a sign-out notice may have been among them).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quart_chat.close_codes import Close

if TYPE_CHECKING:
    from quart_chat.hub import Broadcast


class Resync:
    """Queue marker: rows may have been missed; re-read the store from the last cursor.

    ``since``, when set, is the earliest row another instance could not publish: the re-read
    must reach back at least that far, however many rows this socket got in the meantime.
    """

    __slots__ = ("since",)

    def __init__(self, since: str | None = None) -> None:
        self.since = since

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resync) and other.since == self.since

    def __hash__(self) -> int:
        return hash(("resync", self.since))

    def __repr__(self) -> str:
        return f"Resync(since={self.since!r})"


class Gap:
    """Queue marker: the hub lost its link here; the next Resync must re-read from this point.

    Without it a socket that got many local rows during an outage would re-read only from
    its last few rows and never see the other instances' rows from the start of the outage.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "GAP"


class NoticesLost:
    """Drain marker: this socket's notice buffer overflowed; its sidebar must be read again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTICES_LOST"


RESYNC = Resync()
GAP = Gap()
NOTICES_LOST = NoticesLost()
NOTICE_BUFFER = 64  # notices kept per connection between two drains (a burst beyond: reload the sidebar)
SLOW_CONSUMER = "slow consumer"  # the reason of the 1013 close a full queue asks for


@dataclass(frozen=True, slots=True)
class Notice:
    """A small event for one person's sockets (see ``quart_chat.notices``): strings only, never stored."""

    person: str
    data: dict[str, str]

    def __hash__(self) -> int:
        return hash((self.person, tuple(sorted(self.data.items()))))



@dataclass(slots=True)
class CloseRequest:
    code: int
    reason: str


class Subscription:
    """One connection's inbox: hub rows, resync markers and sender-only fragments; and its person's notices apart."""

    __slots__ = ("_items", "_notices", "_wakeup", "close_request", "maxsize", "notice_max", "notices_lost", "person",
                 "room")  # fmt: skip

    def __init__(self, room: str, maxsize: int, notice_max: int = NOTICE_BUFFER) -> None:
        self.room = room
        self.person: str | None = None  # whose notices it also gets (see LocalFanout.follow)
        self.maxsize = maxsize
        self.notice_max = notice_max
        self._items: deque[Broadcast | Resync | Gap | str] = deque()
        self._notices: deque[Notice] = deque()
        self.notices_lost = False  # the buffer overflowed since the last drain
        self._wakeup = asyncio.Event()
        self.close_request: CloseRequest | None = None

    def offer(self, item: Broadcast | Resync | Gap | Notice | str) -> bool:
        """Queue an item without waiting; on overflow of the rows ask the connection to close (1013).

        A notice goes to the notice buffer, whose overflow only marks the sidebar stale.
        """
        if self.close_request is not None:
            return False
        if isinstance(item, Notice):
            return self._offer_notice(item)
        if len(self._items) >= self.maxsize:
            self._items.clear()  # the client re-reads the store on reconnect
            self.request_close(Close.TRY_AGAIN_LATER, SLOW_CONSUMER)
            return False
        self._items.append(item)
        self._wakeup.set()
        return True

    def _offer_notice(self, notice: Notice) -> bool:
        if len(self._notices) >= self.notice_max:
            self._notices.clear()  # the sidebar is read again from the store instead: the latest state wins
            self.notices_lost = True
            self._wakeup.set()
            return False
        self._notices.append(notice)
        self._wakeup.set()
        return True

    def request_close(self, code: int, reason: str) -> None:
        if self.close_request is None:
            self.close_request = CloseRequest(code, reason)
        self._wakeup.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until there is something to drain or a close request; False on timeout."""
        if self._items or self._notices or self.notices_lost or self.close_request is not None:
            return True
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def drain(self, limit: int) -> list[Broadcast | Resync | Gap | Notice | NoticesLost | str]:
        """Take up to ``limit`` queued items, oldest first, then every buffered notice (at most
        ``notice_max``), after :data:`NOTICES_LOST` if some were dropped since the last drain."""
        batch: list[Broadcast | Resync | Gap | Notice | NoticesLost | str] = []
        items = self._items
        while items and len(batch) < limit:
            batch.append(items.popleft())
        if self.notices_lost:
            self.notices_lost = False
            batch.append(NOTICES_LOST)
        batch.extend(self._notices)
        self._notices.clear()
        if not items:
            self._wakeup.clear()
        return batch

    def __len__(self) -> int:
        """Rows and markers queued (what the slow-consumer bound counts; notices are apart)."""
        return len(self._items)


class LocalFanout:
    """Rooms (and people) to their local subscriptions; the part of every hub that touches sockets."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._rooms: dict[str, set[Subscription]] = {}
        self._people: dict[str, set[Subscription]] = {}
        self.slow_consumers_closed = 0

    def add(self, room: str) -> tuple[Subscription, bool]:
        """Register a subscription; the bool says whether it is the room's first."""
        sub = Subscription(room, self.queue_size)
        subs = self._rooms.setdefault(room, set())
        subs.add(sub)
        return sub, len(subs) == 1

    def remove(self, sub: Subscription) -> bool:
        """Unregister; the bool says whether the room has no subscribers left."""
        subs = self._rooms.get(sub.room)
        if subs is None:
            return False
        subs.discard(sub)
        if not subs:
            del self._rooms[sub.room]
            return True
        return False

    def follow(self, sub: Subscription, person: str) -> bool:
        """``sub`` also gets ``person``'s notices; the bool says whether it is their first here."""
        sub.person = person
        subs = self._people.setdefault(person, set())
        subs.add(sub)
        return len(subs) == 1

    def unfollow(self, sub: Subscription) -> bool:
        """Stop; the bool says whether that person has no subscription left here."""
        person, sub.person = sub.person, None
        subs = self._people.get(person) if person is not None else None
        if subs is None:
            return False
        subs.discard(sub)
        if not subs:
            del self._people[person]  # type: ignore[arg-type]
            return True
        return False

    def deliver(self, broadcast: Broadcast) -> int:
        """Offer a row to every local subscriber of its room; returns how many took it."""
        return self._offer_each(self._rooms.get(broadcast.room, ()), broadcast)

    def offer_person(self, notice: Notice) -> int:
        """Offer a notice to every local subscription following its person; returns how many took it."""
        return self._offer_each(self._people.get(notice.person, ()), notice)

    def offer_people(self, persons: Iterable[str], data: dict[str, str]) -> int:
        """Offer one notice to everyone of ``persons`` followed here (the others are skipped at a
        dict lookup each: the list is a whole room's members); returns how many subscriptions took it."""
        taken = 0
        followed = self._people
        for person in persons:
            if person in followed:
                taken += self._offer_each(followed[person], Notice(person, data))
        return taken

    def _offer_each(self, subs: set[Subscription] | tuple[()], item: Broadcast | Notice) -> int:
        taken = 0
        for sub in tuple(subs):
            was_open = sub.close_request is None
            if sub.offer(item):
                taken += 1
            elif was_open and sub.close_request is not None and sub.close_request.code == Close.TRY_AGAIN_LATER:
                self.slow_consumers_closed += 1  # counted once, when this offer overflowed it
        return taken

    def resync_all(self) -> None:
        """Tell every local subscriber that rows may have been missed."""
        self.offer_all(RESYNC)

    def offer_all(self, item: Resync | Gap) -> None:
        for sub in self.subscriptions():
            sub.offer(item)

    def offer_room(self, room: str, item: Resync | str) -> None:
        """Give a marker (another instance missed rows there) or a direct fragment (presence,
        typing) to every local subscriber of one room."""
        for sub in tuple(self._rooms.get(room, ())):
            sub.offer(item)

    def rooms(self) -> list[str]:
        return list(self._rooms)

    def people(self) -> list[str]:
        """The people followed here."""
        return list(self._people)

    def subscriptions(self) -> Iterator[Subscription]:
        for subs in tuple(self._rooms.values()):
            yield from tuple(subs)

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._rooms.values())
