"""Abuse limits: one small limiter protocol, with a memory and a Redis implementation.

Three primitives cover every limit the app keeps (README "Hostile clients"):

- :meth:`Limiter.take`: a rate with a burst, as GCRA (the generic cell rate algorithm, a token
  bucket kept as one timestamp per key): messages per person, sign-ups per client address.
- :meth:`Limiter.fail` / :meth:`Limiter.blocked` / :meth:`Limiter.forgive`: exponential back-off
  after a few free failures, for sign-in guessing (per account and address, per address, per
  account). A back-off, never a lock-out: it always ends, and a success forgives.
- :meth:`Limiter.hold` / :meth:`Limiter.release`: a bounded set of leases that expire unless
  renewed: the sockets one person may hold open, across instances.

``MemoryLimiter`` counts in this process (bounded in keys); ``RedisLimiter`` counts across every
instance on one Redis with atomic Lua scripts, and falls back to its own memory limiter while Redis
is unreachable (fail open; see :mod:`.redis` for why). Both take ``now`` from an injected clock,
so one contract (tests/contracts/limiter_contract.py) runs against both with the same fake time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

LEASE_TTL = 20.0  # seconds a socket's lease lives without a renewal (a crashed instance's sockets free up)
LEASE_RENEW = 5.0  # seconds between renewals of this instance's leases
EPSILON = 1e-6  # seconds: a burst's last hit, summed in floating point, must not miss by a rounding error


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` per ``period`` seconds sustained, and up to ``burst`` at once."""

    count: int
    period: float
    burst: int

    @property
    def interval(self) -> float:
        """Seconds each hit costs (GCRA's emission interval)."""
        return self.period / self.count


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` failures cost nothing; each one after waits ``base`` seconds, doubling, at most ``cap``.

    Failures are remembered for ``forget`` seconds after the last one (or as long as the wait lasts).
    """

    free: int
    base: float
    cap: float
    forget: float

    def wait_after(self, failures: int) -> float:
        """The wait that the ``failures``-th failure starts (0 within the free ones)."""
        if failures <= self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free - 1, 60))

    def remembered(self, wait: float) -> float:
        return max(self.forget, wait)


def gcra(tat: float | None, now: float, rate: Rate) -> tuple[float, float]:
    """GCRA for one hit: ``(wait, new_tat)``; ``wait`` 0 means allowed (store ``new_tat``), else refused.

    ``tat`` is the key's theoretical arrival time (None for a fresh key). The same arithmetic is in
    the Redis script (:data:`quart_chat.limits.redis.TAKE`).
    """
    start = now if tat is None or tat < now else tat
    new_tat = start + rate.interval
    allow_at = new_tat - rate.interval * rate.burst
    if allow_at - now > EPSILON:
        return allow_at - now, start
    return 0.0, new_tat


def seconds(wait: float) -> int:
    """A wait as the whole seconds a Retry-After header or a message shows (at least 1)."""
    return max(1, math.ceil(wait))


class Limiter(Protocol):
    """Rates, back-offs and leases by key; every method is safe to call from many tasks at once."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def take(self, key: str, rate: Rate) -> float:
        """Count one hit: 0.0 if allowed, else the seconds until one would be (nothing counted)."""
        ...

    async def fail(self, key: str, backoff: Backoff) -> float:
        """Count one failure; the seconds of back-off it starts (0.0 within the free ones)."""
        ...

    async def blocked(self, key: str) -> float:
        """Seconds this key's back-off still lasts (0.0: free to try)."""
        ...

    async def forgive(self, key: str) -> None:
        """Forget this key's failures (a success)."""
        ...

    async def hold(self, key: str, member: str, cap: int, ttl: float = LEASE_TTL) -> bool:
        """Take a lease for ``member`` if fewer than ``cap`` live ones are held; True if held."""
        ...

    def release(self, key: str, member: str) -> None:
        """Give the lease back (synchronous: callable from clean-up; Redis is written in the background)."""
        ...

    async def renew(self, ttl: float = LEASE_TTL) -> None:
        """Push every lease this limiter holds ``ttl`` ahead (the Redis limiter does it on a timer)."""
        ...
