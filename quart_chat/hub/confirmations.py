"""Which SUBSCRIBEs Redis has confirmed, so a new socket can wait until its channels are live.

``subscribe`` waits (briefly) for Redis to confirm the room's channel (and its person's): a
socket reads history after subscribing, so it cannot miss a row published in between. Redis
answers SUBSCRIBEs in the order they were sent, so each channel keeps a queue of futures, one per
SUBSCRIBE on the wire; a later socket on the same channel waits on its latest one. Keys are
channel names. When the link breaks every waiter is woken with False: the reconnect resyncs its socket.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Confirmations:
    def __init__(self) -> None:
        self._pending: dict[str, deque[asyncio.Future[bool]]] = {}  # per room, one per SUBSCRIBE sent
        self._latest: dict[str, asyncio.Future[bool]] = {}  # per room, its latest SUBSCRIBE's confirmation

    def expect(self, room: str) -> asyncio.Future[bool]:
        """A SUBSCRIBE for ``room`` is about to be sent: the future its confirmation resolves (True)."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(room, deque()).append(fut)
        self._latest[room] = fut
        return fut

    def latest(self, room: str) -> asyncio.Future[bool] | None:
        return self._latest.get(room)

    def forget(self, room: str) -> None:
        """The room's last socket left (its channel is being unsubscribed)."""
        self._latest.pop(room, None)

    def confirmed(self, room: str) -> None:
        """Redis confirmed a SUBSCRIBE for ``room``: resolve the oldest one waiting."""
        futs = self._pending.get(room)
        if not futs:
            return
        fut = futs.popleft()
        if not futs:
            del self._pending[room]
        if not fut.done():
            fut.set_result(True)

    def fail_all(self) -> None:
        """The link broke: wake every waiter with False and start afresh."""
        for futs in self._pending.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(False)
        self._pending.clear()
        self._latest.clear()


async def settled(fut: asyncio.Future[bool], timeout: float) -> bool:
    """Wait for ``fut`` without cancelling it (other sockets share it); False if it is not done in time."""
    try:
        async with asyncio.timeout(timeout):
            await asyncio.shield(fut)
    except TimeoutError:
        return False
    return True
