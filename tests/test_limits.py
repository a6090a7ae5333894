"""The limiter contract against memory and a real redis-server; what each does alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from quart_chat.limits import Backoff, Rate, gcra, seconds
from quart_chat.limits.memory import MemoryLimiter
from quart_chat.limits.redis import RedisLimiter
from tests.contracts.limiter_contract import BACKOFF, RATE, Clock, LimiterContract, OpenPair
from tests.support.net import until
from tests.support.redis_server import RedisServer


class TestMemoryLimiter(LimiterContract):
    @pytest.fixture
    def open_pair(self) -> OpenPair:
        @asynccontextmanager
        async def open_pair(clock: Clock) -> AsyncIterator[tuple[MemoryLimiter, MemoryLimiter]]:
            limiter = MemoryLimiter(clock)  # one process: its own pair
            yield limiter, limiter

        return open_pair

    async def test_a_running_limiter_renews_its_leases_so_a_long_open_socket_keeps_counting(self) -> None:
        """The socket cap on the memory hub: a lease lives LEASE_TTL (20 s) unless renewed, and nothing
        but the limiter's own timer renews it, so without the timer every cap lapsed after 20 s."""
        clock = Clock()
        limiter = MemoryLimiter(clock, renew_every=0.01)
        await limiter.start()
        try:
            assert await limiter.hold("sockets:ada", "tab-1", cap=1)
            clock.advance(15)
            await until(lambda: limiter.renewed_at == clock.now, what="a renewal")
            clock.advance(15)  # 30 s after the hold, 15 s after the renewal: still held
            assert not await limiter.hold("sockets:ada", "tab-2", cap=1)
            limiter.release("sockets:ada", "tab-1")
            assert await limiter.hold("sockets:ada", "tab-2", cap=1)
        finally:
            await limiter.close()

    async def test_a_flood_of_new_keys_keeps_at_most_max_keys(self) -> None:
        limiter = MemoryLimiter(Clock(), max_keys=100)
        for i in range(1000):
            await limiter.fail(f"address-{i}", BACKOFF)
            await limiter.take(f"signup-{i}", RATE)
        assert len(limiter) == 100


class TestRedisLimiter(LimiterContract):
    @pytest.fixture
    def open_pair(self, redis_server: RedisServer) -> OpenPair:
        @asynccontextmanager
        async def open_pair(clock: Clock) -> AsyncIterator[tuple[RedisLimiter, RedisLimiter]]:
            one, two = RedisLimiter(redis_server.url, clock=clock), RedisLimiter(redis_server.url, clock=clock)
            try:
                yield one, two
            finally:
                await one.close()
                await two.close()

        return open_pair

    async def test_with_redis_down_it_counts_locally_at_once_and_uses_redis_again_after(
        self, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        clock = Clock()
        limiter = RedisLimiter(redis_server.url, clock=clock)
        try:
            assert await limiter.take("k", RATE) == 0.0
            redis_server.stop()
            began = time.monotonic()
            answers = [await limiter.take("k", RATE) for _ in range(4)]
            assert time.monotonic() - began < 2  # one timed-out call, then local answers without waiting
            assert answers[:3] == [0.0, 0.0, 0.0] and answers[3] > 0  # fails open to a full local burst
            redis_server.start()
            monkeypatch.setattr("quart_chat.limits.redis.RETRY_REDIS", 0.0)
            limiter._down_until = 0.0  # the retry time has passed
            assert await limiter.take("k", RATE) == 0.0  # Redis again (a fresh, empty one)
            assert limiter.local.clock is clock
        finally:
            await limiter.close()

    async def test_close_gives_back_this_instances_leases(self, redis_server: RedisServer) -> None:
        clock = Clock()
        one, two = RedisLimiter(redis_server.url, clock=clock), RedisLimiter(redis_server.url, clock=clock)
        try:
            assert await one.hold("u", "a", cap=1)
            assert not await two.hold("u", "b", cap=1)
            await one.close()
            assert await two.hold("u", "b", cap=1)  # without waiting for the lease's expiry
        finally:
            await two.close()


def test_gcra_and_backoff_arithmetic() -> None:
    rate = Rate(count=60, period=60.0, burst=1)
    assert gcra(None, 100.0, rate) == (0.0, 101.0)
    assert gcra(101.0, 100.5, rate) == (0.5, 101.0)
    backoff = Backoff(free=0, base=1.0, cap=1e9, forget=1.0)
    assert backoff.wait_after(10_000) == 1e9  # no overflow however many failures
    assert seconds(0.2) == 1 and seconds(2.1) == 3
