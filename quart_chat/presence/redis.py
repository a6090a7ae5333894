"""Presence across instances in Redis: one sorted set per room, entries scored by their expiry.

``quart-chat:presence:<room>`` holds a member ``<instance>|<uid>`` for each person with a socket
on that instance, scored by the time (``time.time()``) it expires. Each instance counts its own
sockets per (room, uid) and writes an entry on the first socket and removes it after the last;
every :data:`PRESENCE_REFRESH` seconds it pushes its entries' expiry :data:`PRESENCE_TTL` ahead
and drops whatever has expired. A crashed instance stops refreshing, so its people vanish from
``people()`` after the TTL and from the pages at the next refresh of any instance serving the
room: within :data:`CRASH_BOUND`. Readers filter by score, so an expired entry never counts even
before it is dropped. Clocks of the instances are assumed to agree to well under the TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from quart_chat.presence import PRESENCE_TTL, SocketCounts

KEY_PREFIX = "quart-chat:presence:"
IO_TIMEOUT = 1.0  # seconds for one Redis call: a socket's join must not hang on a dead Redis


def key_for(room: str) -> str:
    return KEY_PREFIX + room


class RedisPresence:
    def __init__(
        self,
        url: str,
        instance_id: str,
        *,
        ttl: float = PRESENCE_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance_id = instance_id
        self.ttl = ttl
        self.clock = clock
        self._redis = aioredis.Redis.from_url(url, socket_timeout=IO_TIMEOUT, socket_connect_timeout=IO_TIMEOUT)
        self._local = SocketCounts()  # sockets here per (room, uid)
        self._lock = asyncio.Lock()  # one write at a time, in the order the sockets came and went

    def _member(self, uid: str) -> str:
        return f"{self.instance_id}|{uid}"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """Remove this instance's entries (a clean stop need not wait for the TTL), then disconnect."""
        try:
            async with self._lock:
                pipe = self._redis.pipeline(transaction=False)
                for room in self._local.rooms():
                    if uids := self._local.people(room):
                        pipe.zrem(key_for(room), *map(self._member, uids))
                await pipe.execute()
        finally:
            await self._redis.aclose()

    async def join(self, room: str, uid: str) -> bool:
        if not self._local.add(room, uid):
            return False  # another tab here: already written
        async with self._lock:
            now = self.clock()
            pipe = self._redis.pipeline(transaction=True)
            pipe.zrangebyscore(key_for(room), now, "+inf")
            pipe.zadd(key_for(room), {self._member(uid): now + self.ttl})
            pipe.expire(key_for(room), int(self.ttl * 2) + 1)
            before, *_ = await pipe.execute()
        return uid not in _uids(before)

    async def leave(self, room: str, uid: str) -> bool:
        if not self._local.remove(room, uid):
            return False  # another tab here still (or a socket never added)
        async with self._lock:
            pipe = self._redis.pipeline(transaction=True)
            pipe.zrem(key_for(room), self._member(uid))
            pipe.zrangebyscore(key_for(room), self.clock(), "+inf")
            _, after = await pipe.execute()
        return uid not in _uids(after)

    async def people(self, room: str) -> set[str]:
        return _uids(await self._redis.zrangebyscore(key_for(room), self.clock(), "+inf"))

    async def counts(self, rooms: list[str]) -> dict[str, int]:
        """One pipeline for the lot; a person on two instances counts once."""
        now = self.clock()
        pipe = self._redis.pipeline(transaction=False)
        for room in rooms:
            pipe.zrangebyscore(key_for(room), now, "+inf")
        found = await pipe.execute() if rooms else []
        return {room: len(_uids(members)) for room, members in zip(rooms, found, strict=True)}

    async def refresh(self) -> None:
        async with self._lock:
            now = self.clock()
            pipe = self._redis.pipeline(transaction=False)
            for room in self._local.rooms():
                if uids := self._local.people(room):
                    pipe.zadd(key_for(room), {self._member(uid): now + self.ttl for uid in uids})
                pipe.zremrangebyscore(key_for(room), "-inf", now)
                pipe.expire(key_for(room), int(self.ttl * 2) + 1)
            await pipe.execute()

    def local_rooms(self) -> list[str]:
        return self._local.rooms()


def _uids(members: list[bytes]) -> set[str]:
    return {m.decode().split("|", 1)[1] for m in members}
