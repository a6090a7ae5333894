"""The presence trackers: a person counts once, per room; Redis entries of a dead instance expire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from quart_chat.presence import PresenceTracker
from quart_chat.presence.memory import MemoryPresence
from quart_chat.presence.typing import Typists
from tests.support.redis_server import RedisServer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def counts_people_once_per_room(make: Callable[[], PresenceTracker]) -> None:
    tracker = make()
    assert await tracker.join("general", "ada") is True
    assert await tracker.join("general", "ada") is False  # a second tab
    assert await tracker.join("general", "bob") is True
    assert await tracker.join("other", "ada") is True  # rooms apart
    assert await tracker.people("general") == {"ada", "bob"}
    assert await tracker.leave("general", "ada") is False  # one tab left
    assert await tracker.people("general") == {"ada", "bob"}
    assert await tracker.leave("general", "ada") is True
    assert await tracker.leave("general", "ada") is False  # leaving twice changes nothing
    assert await tracker.people("general") == {"bob"} and await tracker.people("other") == {"ada"}
    assert sorted(tracker.local_rooms()) == ["general", "other"]
    assert await tracker.join("general", "cy") is True
    assert await tracker.counts(["general", "other", "empty"]) == {"general": 2, "other": 1, "empty": 0}
    assert await tracker.counts([]) == {}


async def test_memory_tracker_counts_each_person_once_per_room() -> None:
    await counts_people_once_per_room(MemoryPresence)


def test_typists_expire_and_stop() -> None:
    typists = Typists(timeout=5)
    assert typists.typing("r", "ada", now=0) is True
    assert typists.typing("r", "ada", now=3) is False  # still typing: the expiry moves on
    assert typists.typing("r", "bob", now=4) is True
    assert typists.next_expiry() == 8
    assert typists.expire(now=8.5) == ["r"] and typists.in_room("r") == ["bob"]
    assert typists.stopped("r", "bob") is True and typists.stopped("r", "bob") is False
    assert typists.in_room("r") == [] and typists.next_expiry() is None


@pytest.fixture
async def redis_trackers(redis_server: RedisServer) -> AsyncIterator[Callable[..., PresenceTracker]]:
    from quart_chat.presence.redis import RedisPresence

    made: list[RedisPresence] = []

    def make(instance: str = "one", clock: Clock | None = None, ttl: float = 20.0) -> RedisPresence:
        tracker = RedisPresence(redis_server.url, instance, ttl=ttl, **({"clock": clock} if clock else {}))
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        await tracker.stop()


async def test_redis_tracker_counts_each_person_once_per_room(redis_trackers) -> None:
    await counts_people_once_per_room(redis_trackers)


async def test_redis_a_person_on_two_instances_counts_once(redis_trackers) -> None:
    one, two = redis_trackers("one"), redis_trackers("two")
    assert await one.join("general", "ada") is True
    assert await two.join("general", "ada") is False  # already here, through the other instance
    assert await one.leave("general", "ada") is False  # still here on two
    assert await two.people("general") == {"ada"}
    assert await two.leave("general", "ada") is True


async def test_redis_a_dead_instances_entries_expire_and_the_refresh_keeps_the_living(redis_trackers) -> None:
    clock = Clock()
    living, dead = redis_trackers("living", clock, ttl=2.0), redis_trackers("dead", clock, ttl=2.0)
    await living.join("general", "ada")
    await dead.join("general", "bob")  # then its process dies: no leave, no refresh
    assert await living.people("general") == {"ada", "bob"}
    clock.now += 1.5
    await living.refresh()
    clock.now += 1.0  # past bob's TTL, within ada's refreshed one
    assert await living.people("general") == {"ada"}
    await living.refresh()  # and the expired entry is dropped from Redis itself
    assert await living._redis.zcard("quart-chat:presence:general") == 1


async def test_redis_a_clean_stop_removes_its_entries_at_once(redis_trackers) -> None:
    one, two = redis_trackers("one"), redis_trackers("two")
    await one.join("general", "ada")
    await two.join("general", "bob")
    await two.stop()
    assert await one.people("general") == {"ada"}
