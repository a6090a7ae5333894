"""The limiter across instances: one Redis, atomic Lua scripts, the same arithmetic as in memory.

Keys live under ``quart-chat:limit:``, each with an expiry, so Redis holds only what is still
in force. Each script is one atomic step (read, decide, write), so instances racing on one key
never both get the last token. ``now`` comes from this instance's clock (``time.time``), as in
presence: the instances' clocks must agree to well under a second.

When Redis cannot be reached this limiter **fails open to its own** :class:`MemoryLimiter`:
every limit is then counted per instance (N instances let through up to N times the rate) for
as long as the outage lasts, and it tries Redis again after :data:`RETRY_REDIS` seconds. Why
not fail closed: the limits protect the service from a few abusive clients, and a chat whose
sign-in and messages all stop because its cache is down hurts every user to stop a few. Nothing
needs Redis to stay bounded: the password-hash bound is per process anyway, and the local
limiter still throttles each abuser on each instance. Leases taken during an outage are held
locally and are not in Redis afterwards (the cross-instance socket cap undercounts until those
sockets reconnect).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from quart_chat.limits import LEASE_RENEW, LEASE_TTL, Backoff, Rate
from quart_chat.limits.memory import MemoryLimiter

log = logging.getLogger(__name__)

KEY_PREFIX = "quart-chat:limit:"
IO_TIMEOUT = 0.5  # seconds for one Redis call: a sign-in must not hang on a dead Redis
RETRY_REDIS = 5.0  # seconds on the local limiter after a Redis failure before Redis is tried again
ERRORS = (RedisError, OSError, TimeoutError)

# GCRA (see quart_chat.limits.gcra; 1e-6 is its EPSILON): KEYS[1]; ARGV now, interval, burst. Floats go back as strings
# (Redis would truncate a Lua number to an integer).
TAKE = """
local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at - now > 1e-6 then return tostring(allow_at - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil((new_tat - now) * 1000)))
return '0'
"""

# Back-off (see Backoff.wait_after): KEYS[1] a hash of the failures (n), the back-off's end (until)
# and when they are forgotten (forget_at, by the callers' clock; the key's own expiry only frees memory).
# ARGV now, free, base, cap, forget.
FAIL = """
local now, free, base, cap, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
    tonumber(ARGV[4]), tonumber(ARGV[5])
local failures = 0
if (tonumber(redis.call('HGET', KEYS[1], 'forget_at')) or 0) > now then
    failures = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
end
failures = failures + 1
local wait = 0
if failures > free then wait = math.min(cap, base * 2 ^ math.min(failures - free - 1, 60)) end
local remembered = math.max(forget, wait)
redis.call('HSET', KEYS[1], 'n', failures, 'until', tostring(now + wait), 'forget_at', tostring(now + remembered))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(remembered * 1000)))
return tostring(wait)
"""

# Leases: KEYS[1] a sorted set of members scored by expiry; ARGV now, member, cap, ttl.
HOLD = """
local now, member, cap, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], member) and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, member)
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 2000))
return 1
"""


class RedisLimiter:
    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        renew_every: float = LEASE_RENEW,
        io_timeout: float = IO_TIMEOUT,
    ) -> None:
        self.clock = clock
        self.renew_every = renew_every
        self.local = MemoryLimiter(clock)
        self._redis = aioredis.Redis.from_url(url, socket_timeout=io_timeout, socket_connect_timeout=io_timeout)
        self._take = self._redis.register_script(TAKE)
        self._fail = self._redis.register_script(FAIL)
        self._hold = self._redis.register_script(HOLD)
        self._held: dict[str, set[str]] = {}  # leases this instance holds in Redis, by key
        self._down_until = 0.0  # on the local limiter until then (monotonic)
        self._renewer: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="limiter-renew")

    async def close(self) -> None:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        with suppress(*ERRORS):  # give back what this instance holds: a clean stop need not wait for the TTL
            pipe = self._redis.pipeline(transaction=False)
            for key, members in self._held.items():
                pipe.zrem(KEY_PREFIX + key, *members)
            await pipe.execute()
        await self._redis.aclose()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            await self.renew()

    # -- the protocol -------------------------------------------------------------------------

    async def _call[T](self, remote: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]) -> T:
        """Redis's answer; the local limiter's while Redis is (or has just been) unreachable."""
        if time.monotonic() < self._down_until:
            return await local()
        try:
            return await remote()
        except ERRORS as exc:
            log.warning("limits: Redis unreachable (%s); counting on this instance for %.0f s", exc, RETRY_REDIS)
            self._down_until = time.monotonic() + RETRY_REDIS
            return await local()

    async def take(self, key: str, rate: Rate) -> float:
        async def remote() -> float:
            args = [self.clock(), rate.interval, rate.burst]
            return float(await self._take(keys=[KEY_PREFIX + key], args=args))

        return await self._call(remote, lambda: self.local.take(key, rate))

    async def fail(self, key: str, backoff: Backoff) -> float:
        async def remote() -> float:
            args = [self.clock(), backoff.free, backoff.base, backoff.cap, backoff.forget]
            return float(await self._fail(keys=[KEY_PREFIX + key], args=args))

        return await self._call(remote, lambda: self.local.fail(key, backoff))

    async def blocked(self, key: str) -> float:
        async def remote() -> float:
            until = await self._redis.hget(KEY_PREFIX + key, "until")
            return max(0.0, float(until) - self.clock()) if until is not None else 0.0

        return await self._call(remote, lambda: self.local.blocked(key))

    async def forgive(self, key: str) -> None:
        async def remote() -> None:
            await self._redis.delete(KEY_PREFIX + key)

        await self.local.forgive(key)
        await self._call(remote, _nothing)

    async def hold(self, key: str, member: str, cap: int, ttl: float = LEASE_TTL) -> bool:
        async def remote() -> bool:
            held = bool(await self._hold(keys=[KEY_PREFIX + key], args=[self.clock(), member, cap, ttl]))
            if held:
                self._held.setdefault(key, set()).add(member)
            return held

        return await self._call(remote, lambda: self.local.hold(key, member, cap, ttl))

    def release(self, key: str, member: str) -> None:
        self.local.release(key, member)
        members = self._held.get(key)
        if members is None or member not in members:
            return
        members.discard(member)
        if not members:
            del self._held[key]
        task = asyncio.get_running_loop().create_task(self._forget_lease(key, member))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _forget_lease(self, key: str, member: str) -> None:
        try:
            await self._redis.zrem(KEY_PREFIX + key, member)
        except ERRORS:
            log.warning("limits: could not release a lease in Redis; it expires by itself")

    async def renew(self, ttl: float = LEASE_TTL) -> None:
        await self.local.renew(ttl)
        if not self._held:
            return
        expires = self.clock() + ttl
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, members in self._held.items():
                pipe.zadd(KEY_PREFIX + key, dict.fromkeys(members, expires))  # re-added after a Redis restart
                pipe.pexpire(KEY_PREFIX + key, math.ceil(ttl * 2000))
            await pipe.execute()
        except ERRORS as exc:
            log.warning("limits: could not renew leases in Redis (%s)", exc)


async def _nothing() -> None:
    return None
