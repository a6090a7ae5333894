"""The in-memory hub: one process, no dependencies (the embedded default).

It reaches only sockets in its own process: with several Hypercorn workers or
instances use the Redis hub.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from quart_chat.hub import Broadcast, SignalHandler
from quart_chat.hub.fanout import LocalFanout, Notice, Subscription

log = logging.getLogger(__name__)


class MemoryHub:
    def __init__(self, queue_size: int = 256) -> None:
        self.fanout = LocalFanout(queue_size)
        self._handlers: list[SignalHandler] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, broadcast: Broadcast) -> None:
        self.fanout.deliver(broadcast)

    @asynccontextmanager
    async def subscribe(self, room: str, person: str | None = None) -> AsyncIterator[Subscription]:
        sub, _first = self.fanout.add(room)
        if person is not None:
            self.fanout.follow(sub, person)
        try:
            yield sub
        finally:
            self.fanout.unfollow(sub)
            self.fanout.remove(sub)

    async def notify(self, person: str, data: dict[str, str]) -> None:
        self.fanout.offer_person(Notice(person, dict(data)))

    async def notify_many(self, persons: Collection[str], data: dict[str, str]) -> None:
        self.fanout.offer_people(persons, dict(data))

    @property
    def healthy(self) -> bool:
        return True

    async def signal(self, room: str, data: dict[str, str]) -> None:
        for handler in tuple(self._handlers):
            try:
                handler(room, dict(data))
            except Exception:
                log.exception("memory hub: a signal handler failed (room %r)", room)

    def on_signal(self, handler: SignalHandler) -> None:
        self._handlers.append(handler)

    def offer_room(self, room: str, html: str) -> None:
        self.fanout.offer_room(room, html)
