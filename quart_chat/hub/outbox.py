"""The Redis hub's outbound queue and the publisher task that empties it.

Local first: ``publish`` hands a row to this process's sockets at once (the sender
included), then queues it here. One publisher sends the queue in order over one
connection, pipelining whatever has piled up (up to :data:`PUBLISH_BATCH` per write), so
callers never wait on Redis or on any reader, and a room keeps working locally while Redis
is down. A row leaves the queue only once Redis has answered its PUBLISH: if the link
breaks, what is still queued never left, and the hub announces those rooms as missed.
The queue is bounded (:data:`OUTBOX_MAX`): when Redis cannot keep up, the hub treats it as
an outage, which ends in a resync everywhere, rather than growing memory without end.
"""

from __future__ import annotations

import asyncio
from collections import deque
from itertools import islice
from typing import NamedTuple

from redis.asyncio.connection import AbstractConnection

from quart_chat.hub.wire import channel_for

OUTBOX_MAX = 10_000  # rows waiting for Redis before the hub gives the link up as too slow
PUBLISH_BATCH = 500  # PUBLISHes pipelined in one write


class Queued(NamedTuple):
    """One PUBLISH waiting: to ``channel``; a row of ``room`` at ``cursor`` (empty: not a row)."""

    room: str
    cursor: str
    payload: bytes
    channel: str


class Outbox:
    """Rows for Redis, oldest first; a row's cursor says what is missed if it is lost.

    Signals and person notices travel here too, in order with the rows, with an empty cursor: a lost
    one is not a missed row.
    """

    def __init__(self, maxsize: int = OUTBOX_MAX) -> None:
        self.maxsize = maxsize
        self._items: deque[Queued] = deque()
        self._ready = asyncio.Event()  # set while there is something to send
        self._empty = asyncio.Event()  # set while nothing waits
        self._empty.set()

    @property
    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put(self, room: str, cursor: str, payload: bytes, channel: str | None = None) -> None:
        """Queue a PUBLISH to ``channel`` (the room's own channel unless given)."""
        self._items.append(Queued(room, cursor, payload, channel or channel_for(room)))
        self._empty.clear()
        self._ready.set()

    def batch(self, limit: int = PUBLISH_BATCH) -> list[Queued]:
        """The oldest ``limit`` rows, left queued until :meth:`sent` says Redis has them."""
        return list(islice(self._items, limit))

    def sent(self, count: int) -> None:
        for _ in range(count):
            self._items.popleft()
        if not self._items:
            self._empty.set()

    def unsent(self) -> list[tuple[str, str]]:
        """Empty the queue (the link broke); the (room, cursor) of every row that never left, in order."""
        lost = [(q.room, q.cursor) for q in self._items if q.cursor]  # signals and notices (no cursor) are not rows
        self._items.clear()
        self._empty.set()
        return lost

    async def wait_ready(self) -> None:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()

    async def wait_empty(self) -> None:
        await self._empty.wait()

    def __len__(self) -> int:
        return len(self._items)


async def publish_forever(outbox: Outbox, conn: AbstractConnection) -> None:
    """The publisher: send the outbox in order over ``conn``, pipelining whatever has piled up."""
    while True:
        await outbox.wait_ready()
        batch = outbox.batch()
        commands = [("PUBLISH", q.channel, q.payload) for q in batch]
        await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        for _ in batch:
            await conn.read_response()
        outbox.sent(len(batch))
