"""The limiter in one process: the same arithmetic as Redis's scripts, in dictionaries.

Bounded: at most ``max_keys`` rate and back-off entries, the least recently touched dropped
first, expired ones as they are met (a flood of new addresses or emails costs bounded memory,
not a growing table). Leases are bounded by the sockets that hold them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from quart_chat.limits import LEASE_TTL, Backoff, Rate, gcra

MAX_KEYS = 50_000


@dataclass(slots=True)
class _Entry:
    expires: float
    tat: float = 0.0  # take: the theoretical arrival time
    failures: int = 0  # fail: failures counted, and the end of the back-off they started
    until: float = 0.0


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._leases: dict[str, dict[str, float]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

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
        expires = self.clock() + ttl
        for leases in self._leases.values():
            for member in leases:
                leases[member] = expires
