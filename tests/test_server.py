"""A real Hypercorn server with real WebSocket clients: chat, restart, shutdown, refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, collect_rows, rows, say
from tests.support.server import ChatServer


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]):
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


async def test_two_users_chat_live_in_order_once(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    bob = await RemoteUser(server.base, "bob@example.com").sign_up()
    async with ada.socket() as a, bob.socket() as b:
        await a.recv()
        await b.recv()
        for i in range(5):
            await say(a, f"ada {i}")
            await say(b, f"bob {i}")
        got_a = await collect_rows(a, 10)
        got_b = await collect_rows(b, 10)
    for got in (got_a, got_b):
        assert len(got) == 10  # each row once
        assert sorted(t for _, t in got) == sorted([f"ada {i}" for i in range(5)] + [f"bob {i}" for i in range(5)])
    assert [mid for mid, _ in got_a] == [mid for mid, _ in got_b]  # the same order on both sockets
    await ada.close()
    await bob.close()


async def test_messages_and_accounts_survive_a_restart(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    async with ada.socket() as a:
        await a.recv()
        for text in ("first", "second"):
            await say(a, text)
        await collect_rows(a, 2)
    assert server.stop() == 0
    server.start()
    page = await ada.http.get("/rooms/general")  # the same session cookie still works
    assert page.status_code == 200
    assert page.text.index("first") < page.text.index("second")
    again = await RemoteUser(server.base, "ada@example.com").log_in()
    async with again.socket(after="00000000000000000-0") as a:
        assert [t for _, t in rows(await a.recv())] == ["first", "second"]
    await ada.close()
    await again.close()


async def test_sigterm_closes_live_sockets_with_1012_and_exits_cleanly(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    async with ada.socket() as a:
        await a.recv()
        loop = asyncio.get_running_loop()
        stopping = loop.run_in_executor(None, server.stop)
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await a.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        assert await stopping == 0
    await ada.close()


async def test_refusals_use_1008_so_htmx_stops_retrying(server: ChatServer) -> None:
    stranger = RemoteUser(server.base, "nobody@example.com")
    async with stranger.socket() as ws:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    async with ada.socket(origin="http://evil.example") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    await ada.close()
    await stranger.close()


async def test_an_oversize_frame_gets_an_error_and_the_socket_stays_usable(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    async with ada.socket() as a:
        await a.recv()
        await say(a, "y" * 100_000)  # over CHAT_MAX_FRAME_BYTES (64 KiB)
        async with asyncio.timeout(5):
            frame = await a.recv()
            while "composer-error" not in frame:
                frame = await a.recv()
        assert "Message too long" in frame
        await say(a, "still here")
        assert [t for _, t in await collect_rows(a, 1)] == ["still here"]
    await ada.close()


async def test_setting_errors_stop_start_up_with_one_sentence(tmp_path: Path) -> None:
    srv = ChatServer(tmp_path / "data", CHAT_AUTH="ldap")
    with pytest.raises(RuntimeError) as failed:
        srv.start(timeout=10)
    assert "quart-chat: CHAT_AUTH must be one of local, firebase, not 'ldap'." in str(failed.value)
    assert "Traceback" not in str(failed.value)
