"""The limiter's behaviour, specified once and run against every limiter (memory, Redis).

A test module subclasses :class:`LimiterContract` and provides an ``open_pair`` fixture: a
callable that opens (as an async context manager) two limiters that share their counts (one
process's limiter is its own pair; two Redis limiters share one redis-server, as two instances
do), both reading the given fake clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from quart_chat.limits import Backoff, Limiter, Rate

OpenPair = Callable[["Clock"], AbstractAsyncContextManager[tuple[Limiter, Limiter]]]


class Clock:
    """Fake time.time(): starts at a real-looking epoch second and moves only when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


RATE = Rate(count=6, period=60.0, burst=3)  # one every 10 s, three at once
BACKOFF = Backoff(free=3, base=1.0, cap=8.0, forget=100.0)


class LimiterContract:
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    async def test_take_allows_the_burst_then_says_how_long_to_wait(self, open_pair: OpenPair, clock: Clock) -> None:
        async with open_pair(clock) as (one, _):
            assert [await one.take("k", RATE) for _ in range(3)] == [0.0, 0.0, 0.0]
            assert await one.take("k", RATE) == pytest.approx(10.0)
            clock.advance(4)
            assert await one.take("k", RATE) == pytest.approx(6.0)  # a refusal costs nothing

    async def test_take_refills_at_the_rate_and_never_above_the_burst(
        self, open_pair: OpenPair, clock: Clock
    ) -> None:
        async with open_pair(clock) as (one, _):
            for _ in range(3):
                await one.take("k", RATE)
            clock.advance(10)
            assert await one.take("k", RATE) == 0.0
            assert await one.take("k", RATE) > 0
            clock.advance(3600)  # an hour idle still allows only the burst
            assert [await one.take("k", RATE) == 0.0 for _ in range(4)] == [True, True, True, False]

    async def test_keys_are_counted_apart_and_shared_between_the_pair(
        self, open_pair: OpenPair, clock: Clock
    ) -> None:
        async with open_pair(clock) as (one, two):
            for _ in range(3):
                await one.take("a", RATE)
            assert await two.take("a", RATE) > 0  # the other instance sees a's hits
            assert await two.take("b", RATE) == 0.0

    async def test_racing_takes_on_both_get_exactly_the_burst(self, open_pair: OpenPair, clock: Clock) -> None:
        async with open_pair(clock) as (one, two):
            results = await asyncio.gather(*(limiter.take("k", RATE) for limiter in (one, two) * 10))
            assert sum(wait == 0.0 for wait in results) == 3

    async def test_failures_are_free_then_back_off_doubling_up_to_the_cap(
        self, open_pair: OpenPair, clock: Clock
    ) -> None:
        async with open_pair(clock) as (one, two):
            waits = [await one.fail("k", BACKOFF) for _ in range(8)]
            assert waits == [0.0, 0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]
            assert await two.blocked("k") == pytest.approx(8.0)
            clock.advance(5)
            assert await one.blocked("k") == pytest.approx(3.0)
            clock.advance(3)
            assert await one.blocked("k") == 0.0  # a back-off always ends

    async def test_a_fresh_key_is_not_blocked_and_forgive_clears(self, open_pair: OpenPair, clock: Clock) -> None:
        async with open_pair(clock) as (one, two):
            assert await one.blocked("k") == 0.0
            for _ in range(5):
                await one.fail("k", BACKOFF)
            assert await one.blocked("k") > 0
            await two.forgive("k")
            assert await one.blocked("k") == 0.0
            assert await one.fail("k", BACKOFF) == 0.0  # counting starts over

    async def test_failures_are_forgotten_after_the_forget_period(self, open_pair: OpenPair, clock: Clock) -> None:
        async with open_pair(clock) as (one, _):
            for _ in range(3):
                await one.fail("k", BACKOFF)
            clock.advance(BACKOFF.forget + 1)
            assert await one.fail("k", BACKOFF) == 0.0

    async def test_leases_are_capped_and_a_release_frees_one(self, open_pair: OpenPair, clock: Clock) -> None:
        async with open_pair(clock) as (one, two):
            assert await one.hold("u", "s1", cap=2)
            assert await two.hold("u", "s2", cap=2)
            assert not await one.hold("u", "s3", cap=2)
            assert await one.hold("u", "s1", cap=2)  # one member counts once
            assert await one.hold("other", "s3", cap=2)
            two.release("u", "s2")
            async with asyncio.timeout(5):  # Redis is written in the background
                while not await one.hold("u", "s3", cap=2):
                    await asyncio.sleep(0.01)

    async def test_a_lease_not_renewed_expires_and_a_renewed_one_stays(
        self, open_pair: OpenPair, clock: Clock
    ) -> None:
        async with open_pair(clock) as (one, two):
            assert await one.hold("u1", "crashed", cap=1, ttl=20)
            clock.advance(25)  # its instance never renewed it
            assert await two.hold("u1", "new", cap=1)
            assert await one.hold("u2", "kept", cap=1, ttl=20)
            clock.advance(15)
            await one.renew(ttl=20)
            clock.advance(15)  # 30 s after the hold, 15 s after the renewal
            assert not await two.hold("u2", "other", cap=1)
