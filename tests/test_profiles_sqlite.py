"""The SQLite profile store: the profile contract on a real file, plus what a file adds."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_chat.profiles import ProfileError
from quart_chat.profiles.sqlite import SqliteProfiles
from tests.contracts.profile_contract import ProfileContract
from tests.support.resources import opened


@pytest.fixture
async def profiles(tmp_path: Path) -> AsyncIterator[SqliteProfiles]:
    async with opened(SqliteProfiles(tmp_path / "people.sqlite3")) as p:
        yield p


class TestSqliteProfiles(ProfileContract):
    async def test_profiles_survive_reopening(self, tmp_path: Path) -> None:
        path = tmp_path / "again.sqlite3"
        async with opened(SqliteProfiles(path)) as first:
            made = await first.ensure("u1", "Ada")
        async with opened(SqliteProfiles(path)) as second:
            assert await second.get("u1") == made

    async def test_two_connections_to_one_file_never_share_a_handle(self, tmp_path: Path) -> None:
        """Several processes may share the data folder: the file itself refuses a second "ada"."""
        import asyncio

        path = tmp_path / "shared.sqlite3"
        async with opened(SqliteProfiles(path)) as a, opened(SqliteProfiles(path)) as b:
            made = await asyncio.gather(*(s.ensure(f"u{i}-{n}", "Ada") for i in range(3) for n, s in enumerate((a, b))))
        assert len({p.handle for p in made}) == 6

    async def test_a_closed_store_is_a_profile_error(self, profiles: SqliteProfiles) -> None:
        await profiles.close()
        with pytest.raises(ProfileError):
            await profiles.get("u1")
