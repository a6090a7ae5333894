"""The profile store's behaviour, specified once and run against every profile store.

A test module subclasses :class:`ProfileContract` and provides a ``profiles`` fixture that
yields an open, empty store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from quart_chat import people
from quart_chat.profiles import HandleTaken, ProfileChanges, ProfileStore


class ProfileContract:
    async def test_ensure_makes_a_profile_once_and_returns_it_after(self, profiles: ProfileStore) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        made = await profiles.ensure("u1", "Ada Lovelace")
        assert made.uid == "u1" and made.display_name == "Ada Lovelace" and made.handle == "ada-lovelace"
        assert made.time_zone == people.DEFAULT_TIME_ZONE
        assert before <= made.joined <= datetime.now(UTC) + timedelta(seconds=5) and made.joined.tzinfo is not None
        again = await profiles.ensure("u1", "Someone Else")  # the name only matters the first time
        assert again == made
        assert await profiles.get("u1") == made

    async def test_the_colour_is_derived_from_the_uid(self, profiles: ProfileStore) -> None:
        for uid in ("u1", "u2", "another-uid"):
            assert (await profiles.ensure(uid, "Ada")).colour == people.default_colour(uid)

    async def test_handles_are_derived_and_unique_in_any_case(self, profiles: ProfileStore) -> None:
        a = await profiles.ensure("u1", "Ada")
        b = await profiles.ensure("u2", "ADA")
        c = await profiles.ensure("u3", "ada")
        assert (a.handle, b.handle, c.handle) == ("ada", "ada-2", "ada-3")
        assert a.display_name == "Ada" and b.display_name == "ADA"  # names need not be unique

    async def test_get_get_many_and_by_handle_in_any_case(self, profiles: ProfileStore) -> None:
        a = await profiles.ensure("u1", "Ada")
        b = await profiles.ensure("u2", "Bob")
        assert await profiles.get("nobody") is None
        assert await profiles.get_many(["u1", "u2", "nobody", "u1"]) == {"u1": a, "u2": b}
        assert await profiles.get_many([]) == {}
        for asked in ("ada", "ADA", "Ada"):
            assert await profiles.by_handle(asked) == a
        assert await profiles.by_handle("bob") == b
        assert await profiles.by_handle("nobody") is None

    async def test_update_changes_each_field_alone(self, profiles: ProfileStore) -> None:
        made = await profiles.ensure("u1", "Ada")
        named = await profiles.update("u1", ProfileChanges(display_name="Ada L."))
        assert named.display_name == "Ada L." and named.handle == made.handle and named.colour == made.colour
        painted = await profiles.update("u1", ProfileChanges(colour="teal"))
        assert painted.colour == "teal" and painted.display_name == "Ada L."
        zoned = await profiles.update("u1", ProfileChanges(time_zone="Europe/London"))
        assert zoned.time_zone == "Europe/London" and zoned.colour == "teal"
        moved = await profiles.update("u1", ProfileChanges(handle="lovelace"))
        assert moved.handle == "lovelace" and moved.display_name == "Ada L." and moved.joined == made.joined
        assert await profiles.get("u1") == moved
        assert await profiles.by_handle("lovelace") == moved
        assert await profiles.by_handle("ada") is None  # the old handle is free again
        assert (await profiles.ensure("u2", "Ada")).handle == "ada"
        assert await profiles.update("u1", ProfileChanges()) == moved  # nothing given, nothing changed

    async def test_someone_elses_handle_in_another_case_is_taken(self, profiles: ProfileStore) -> None:
        await profiles.ensure("u1", "Ada")
        bob = await profiles.ensure("u2", "Bob")
        for asked in ("ada", "ADA", "aDa"):
            with pytest.raises(HandleTaken):
                await profiles.update("u2", ProfileChanges(handle=asked))
        assert await profiles.get("u2") == bob
        assert (await profiles.by_handle("ada")).uid == "u1"

    async def test_your_own_handle_in_another_case_is_yours(self, profiles: ProfileStore) -> None:
        await profiles.ensure("u1", "Ada")
        changed = await profiles.update("u1", ProfileChanges(handle="ADA", display_name="Ada"))
        assert changed.handle.lower() == "ada"
        assert (await profiles.by_handle("ada")).uid == "u1"
        assert (await profiles.ensure("u2", "Ada")).handle == "ada-2"

    async def test_concurrent_ensure_of_two_people_of_one_name_gives_two_handles(
        self, profiles: ProfileStore
    ) -> None:
        made = await asyncio.gather(*(profiles.ensure(f"u{i}", "Ada") for i in range(4)))
        assert sorted(p.handle for p in made) == ["ada", "ada-2", "ada-3", "ada-4"]
        assert {p.uid: p for p in made} == await profiles.get_many(f"u{i}" for i in range(4))

    async def test_concurrent_ensure_of_one_person_makes_one_profile(self, profiles: ProfileStore) -> None:
        made = await asyncio.gather(*(profiles.ensure("u1", "Ada") for _ in range(3)))
        assert len(set(made)) == 1 and made[0].handle == "ada"
        assert (await profiles.ensure("u2", "Ada")).handle == "ada-2"  # no stray claim on another handle
