"""A real Hypercorn server with real WebSocket clients: chat, restart, shutdown, refusals."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.http_user import RemoteUser, collect_rows, rows, say
from tests.support.server import ChatServer


@pytest.fixture
def server(tmp_path: Path):
    srv = ChatServer(tmp_path / "data").start()
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


async def test_a_client_that_never_answers_the_close_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    """A frozen tab (or a dead network path) never completes the close handshake; asyncio's
    Server.wait_closed() would wait for it without limit. The process must still exit in time."""
    server = ChatServer(tmp_path / "data", CHAT_GRACEFUL_TIMEOUT="4").start()
    try:
        ada = await RemoteUser(server.base, "ada@example.com").sign_up()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /rooms/general/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {server.base}\r\nCookie: {ada.cookie_header()}\r\n\r\n"
            ).encode()
        )
        assert b" 101 " in (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).split(b"\r\n")[0]
        # From here on this client reads nothing and answers nothing.
        started = time.monotonic()
        assert await asyncio.to_thread(server.stop, 15) == 0
        assert time.monotonic() - started < 4 + 1.5
        writer.close()
        await ada.close()
    finally:
        server.kill()
