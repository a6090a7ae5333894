"""Local fan-out: bounded per-connection queues, shared by every hub.

Trade-off (see websockets' "broadcast" notes): a broadcast must never wait for
the slowest reader, so ``offer`` is synchronous and O(1). A connection whose
queue is full is a slow consumer: it is marked to close with 1013 (try again
later) and catches up from the store when its browser reconnects. Memory per
connection is therefore bounded by ``maxsize`` rows.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quart_chat.hub import Broadcast


class Resync:
    """Queue marker: rows may have been missed; re-read the store from the last cursor."""

    __slots__ = ()


RESYNC = Resync()

CLOSE_SLOW_CONSUMER = 1013
CLOSE_SERVICE_RESTART = 1012


@dataclass(slots=True)
class CloseRequest:
    code: int
    reason: str


Item = "Broadcast | Resync | str"


class Subscription:
    """One connection's inbox: hub rows, resync markers and sender-only fragments."""

    __slots__ = ("_items", "_wakeup", "close_request", "maxsize", "room")

    def __init__(self, room: str, maxsize: int) -> None:
        self.room = room
        self.maxsize = maxsize
        self._items: deque[Broadcast | Resync | str] = deque()
        self._wakeup = asyncio.Event()
        self.close_request: CloseRequest | None = None

    def offer(self, item: Broadcast | Resync | str) -> bool:
        """Queue an item without waiting; on overflow ask the connection to close (1013)."""
        if self.close_request is not None:
            return False
        if len(self._items) >= self.maxsize:
            self._items.clear()  # the client re-reads the store on reconnect
            self.request_close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        self._items.append(item)
        self._wakeup.set()
        return True

    def request_close(self, code: int, reason: str) -> None:
        if self.close_request is None:
            self.close_request = CloseRequest(code, reason)
        self._wakeup.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until there is something to drain or a close request; False on timeout."""
        if self._items or self.close_request is not None:
            return True
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def drain(self, limit: int) -> list[Broadcast | Resync | str]:
        """Take up to ``limit`` queued items, oldest first."""
        batch: list[Broadcast | Resync | str] = []
        items = self._items
        while items and len(batch) < limit:
            batch.append(items.popleft())
        if not items:
            self._wakeup.clear()
        return batch

    def __len__(self) -> int:
        return len(self._items)


class LocalFanout:
    """Rooms to their local subscriptions; the part of every hub that touches sockets."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._rooms: dict[str, set[Subscription]] = {}
        self.slow_consumers_closed = 0
        self.delivered = 0

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

    def deliver(self, broadcast: Broadcast) -> int:
        """Offer a row to every local subscriber of its room; returns how many took it."""
        taken = 0
        for sub in tuple(self._rooms.get(broadcast.room, ())):
            was_open = sub.close_request is None
            if sub.offer(broadcast):
                taken += 1
            elif was_open and sub.close_request is not None and sub.close_request.code == CLOSE_SLOW_CONSUMER:
                self.slow_consumers_closed += 1  # counted once, when this offer overflowed it
        self.delivered += taken
        return taken

    def resync_all(self) -> None:
        """Tell every local subscriber that rows may have been missed."""
        for sub in self.subscriptions():
            sub.offer(RESYNC)

    def close_all(self, code: int, reason: str) -> None:
        for sub in self.subscriptions():
            sub.request_close(code, reason)

    def rooms(self) -> list[str]:
        return list(self._rooms)

    def subscriptions(self) -> Iterator[Subscription]:
        for subs in tuple(self._rooms.values()):
            yield from tuple(subs)

    @property
    def connection_count(self) -> int:
        return sum(len(s) for s in self._rooms.values())
