"""The store contract against the SQLite store (the embedded default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_chat.store.sqlite import SqliteStore
from tests.contracts.store_contract import StoreContract


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "messages.db")
    await s.open()
    yield s
    await s.close()


class TestSqliteStore(StoreContract):
    pass
