"""A conversation while its store fails (review of issue 9, finding 3), on a real server and a real SQLite file.

No mock: the test takes a table away from the running server's database file (``ALTER TABLE ...
RENAME``, from another connection, as a broken migration or an operator's mistake would), so the
server's next read of it fails in SQLite itself. Every route of the conversation then answers the
app's 503 page with Retry-After (it was a 500 for the store, a 503 without Retry-After for the
profiles), its socket closes with 1013 and "Reconnecting…" (htmx retries), and once the table is
back the conversation opens again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.http_user import RemoteUser, closed_with
from tests.support.server import ChatServer

pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChatServer]:
    srv = ChatServer(tmp_path / "data", CHAT_AUTH="local", CHAT_STORE="sqlite").start()
    yield srv
    srv.kill()


@pytest.fixture
async def ada(server: ChatServer) -> AsyncIterator[RemoteUser]:
    user = await RemoteUser(server.base, "ada@example.com").sign_up()
    await RemoteUser(server.base, "bob@example.com").sign_up()
    yield user
    await user.close()


@contextmanager
def table_gone(database: Path, table: str) -> Iterator[None]:
    """``table`` renamed away in the live server's file while the block runs, then put back."""
    with sqlite3.connect(database) as db:
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with sqlite3.connect(database) as db:
            db.execute(f"ALTER TABLE {table}_away RENAME TO {table}")


async def assert_unavailable(ada: RemoteUser, token: str) -> None:
    """Every route of ada's conversation with bob, and its socket, says "try again later"."""
    for method, path in (("GET", "/dm/bob"), ("GET", "/dm/bob/history?before=00000000000000001-1"),
                         ("POST", "/dm/bob/messages"), ("POST", "/dm/bob/leave")):
        data = {"csrf_token": token, "message": "are you there?"} if method == "POST" else None
        response = await ada.http.request(method, path, data=data)
        assert response.status_code == 503, (path, response.status_code, response.text[-400:])
        assert response.headers.get("Retry-After", "").isdigit(), path
        assert "<main" in response.text and "right now" in response.text, path  # the app's own page
    async with ada.socket(page="/dm/bob") as ws:
        code, last = await closed_with(ws, within=10)
    assert code == 1013 and "Reconnecting" in last


async def test_a_conversation_whose_store_fails_is_a_503_with_retry_after(server: ChatServer, ada: RemoteUser) -> None:
    page = (await ada.http.get("/dm/bob")).text
    assert "This is the beginning of your conversation" in page
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    with table_gone(server.data_dir / "chat.sqlite3", "memberships"):  # the store: which conversation it is
        await assert_unavailable(ada, token)
    assert (await ada.http.get("/dm/bob")).status_code == 200  # back with its table
    assert "Exception on request" not in server.log()  # never the framework's 500


async def test_a_conversation_whose_profiles_fail_is_a_503_with_retry_after(
    server: ChatServer, ada: RemoteUser
) -> None:
    page = (await ada.http.get("/dm/bob")).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    with table_gone(server.data_dir / "people.sqlite3", "profiles"):  # who has the handle
        await assert_unavailable(ada, token)
    assert (await ada.http.get("/dm/bob")).status_code == 200
