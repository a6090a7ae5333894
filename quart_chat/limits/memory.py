"""The limiter in one process: the same arithmetic as Redis's scripts, in dictionaries.

Bounded: at most ``max_keys`` rate and back-off entries, the least recently touched dropped
first, expired ones as they are met (a flood of new addresses or emails costs bounded memory,
not a growing table). Leases are bounded by the sockets that hold them, and renewed every
``LEASE_RENEW`` seconds while the limiter runs, as the Redis limiter renews its own: a socket open
longer than ``LEASE_TTL`` keeps counting against its person's cap.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from quart_chat.limits import LEASE_RENEW, LEASE_TTL, Backoff, Rate, gcra

MAX_KEYS = 50_000


@dataclass(slots=True)
class _Entry:
    expires: float
    tat: float = 0.0  # take: the theoretical arrival time
    failures: int = 0  # fail: failures counted, and the end of the back-off they started
    until: float = 0.0


class MemoryLimiter:
    def __init__(
        self, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS, renew_every: float = LEASE_RENEW
    ) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self.renew_every = renew_every
        self.renewed_at: float | None = None  # the clock at the last renewal of the leases
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._leases: dict[str, dict[str, float]] = {}
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="limiter-renew")

    async def close(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            await self.renew()

    def __len__(self) -> int:
        return len(self._entries)

    def _get(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _put(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    async def take(self, key: str, rate: Rate) -> float:
        now = self.clock()
        entry = self._get(key, now)
        wait, tat = gcra(entry.tat if entry else None, now, rate)
        if not wait:
            self._put(key, _Entry(expires=tat, tat=tat))
        return wait

    async def fail(self, key: str, backoff: Backoff) -> float:
        now = self.clock()
        entry = self._get(key, now)
        failures = (entry.failures if entry else 0) + 1
        wait = backoff.wait_after(failures)
        self._put(key, _Entry(expires=now + backoff.remembered(wait), failures=failures, until=now + wait))
        return wait

    async def blocked(self, key: str) -> float:
        now = self.clock()
        entry = self._get(key, now)
        return max(0.0, entry.until - now) if entry else 0.0

    async def forgive(self, key: str) -> None:
        self._entries.pop(key, None)

    async def hold(self, key: str, member: str, cap: int, ttl: float = LEASE_TTL) -> bool:
        now = self.clock()
        leases = self._leases.setdefault(key, {})
        for held, expires in list(leases.items()):
            if expires <= now:
                del leases[held]
        if member not in leases and len(leases) >= cap:
            return False
        leases[member] = now + ttl
        return True

    def release(self, key: str, member: str) -> None:
        leases = self._leases.get(key)
        if leases is not None:
            leases.pop(member, None)
            if not leases:
                del self._leases[key]

    async def renew(self, ttl: float = LEASE_TTL) -> None:
        self.renewed_at = now = self.clock()
        expires = now + ttl
        for leases in self._leases.values():
            for member in leases:
                leases[member] = expires
