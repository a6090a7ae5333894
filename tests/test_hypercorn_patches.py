"""The Hypercorn patches on their own: a real Hypercorn in this process, a bare ASGI app, real sockets.

tests/test_slow_and_frozen_clients.py shows the same fixes through the whole chat server; these
show that the patch applies to the installed Hypercorn and what each part does, in a second.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config
from hypercorn.protocol import ws_stream
from hypercorn.protocol.ws_stream import WSStream
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from quart_chat import hypercorn_patches
from quart_chat.hypercorn_patches import CLOSE_TIMEOUT, PONG_TIMEOUT, SEND_TIMEOUT, Limits, UnsupportedHypercorn
from tests.support.hostile_clients import close_code_from, kernel_send_buffer_max
from tests.support.net import free_port, until
from tests.support.server import ROOT


class App:
    """An ASGI app with one WebSocket route: accept, send ``flood`` bytes a frame at a time, close if
    told to, then wait for the disconnect."""

    def __init__(self, flood: int = 0, close: bool = False) -> None:
        self.flood = flood
        self.close = close
        self.disconnected = asyncio.Event()
        self.received: list[int] = []  # the length of each message, as the app got it

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        for _ in range(self.flood // 65536):
            await send({"type": "websocket.send", "bytes": b"x" * 65536})
        if self.close:
            await send({"type": "websocket.close", "code": 1012})
        while (event := await receive())["type"] != "websocket.disconnect":
            self.received.append(len(event.get("text") or event.get("bytes") or ""))
        self.disconnected.set()


@dataclass
class Served:
    port: int
    clients: list[asyncio.StreamWriter] = field(default_factory=list)  # aborted first at the end


@asynccontextmanager
async def hypercorn(
    app: App, ping_interval: float, limits: Limits, max_message_size: int | None = None
) -> AsyncIterator[Served]:
    """Hypercorn serving ``app`` on a free loopback port, patched and with ``limits``."""
    hypercorn_patches.apply()
    served = Served(free_port())
    config = Config()
    config.bind = [f"127.0.0.1:{served.port}"]
    config.websocket_ping_interval = ping_interval
    if max_message_size is not None:
        config.websocket_max_message_size = max_message_size
    hypercorn_patches.set_limits(config, limits)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        await until(lambda: _accepts(served.port), timeout=5, what="Hypercorn to listen")
        yield served
    finally:
        for client in served.clients:  # so a failing test cannot leave Hypercorn waiting on a stuck write
            client.transport.abort()
        stop.set()
        await asyncio.wait_for(serving, 10)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def raw_websocket(served: Served, receive_buffer: int = 0) -> asyncio.StreamReader:
    """A WebSocket opened by hand: nothing answers its pings, and it reads only when told to."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", served.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    served.clients.append(writer)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b" 101 " in (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).split(b"\r\n")[0]
    return reader


async def read_until_reset(reader: asyncio.StreamReader, within: float) -> None:
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass


def keepalives() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ in ("_keepalive", "WSStream._send_pings")]


def test_apply_patches_the_installed_hypercorn_once() -> None:
    hypercorn_patches.apply()
    hypercorn_patches.apply()  # a second call changes nothing
    assert TCPServer.protocol_send is hypercorn_patches._protocol_send
    assert TCPServer._close is hypercorn_patches._close
    assert WSStream._send_pings is hypercorn_patches._keepalive
    assert WSStream._handle_events is hypercorn_patches._handle_events
    assert WSStream._accept is hypercorn_patches._accept
    assert ws_stream.PerMessageDeflate is hypercorn_patches._chat_deflate


def test_another_hypercorn_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for an upgraded Hypercorn (only 0.18.0 can be installed here): the reported version."""
    monkeypatch.setattr(hypercorn_patches, "version", lambda name: "0.19.0")
    with pytest.raises(UnsupportedHypercorn, match=r"^Hypercorn 0\.19\.0 is installed, but quart_chat/hyper"):
        hypercorn_patches.apply()


@pytest.mark.server
def test_the_launcher_refuses_another_hypercorn_version_in_one_sentence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import importlib.metadata as m; real = m.version; "
        "m.version = lambda name: '0.19.0' if name == 'hypercorn' else real(name); "
        "from quart_chat.__main__ import main; main()"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CHAT_DATA_DIR": str(tmp_path / "data"), "CHAT_PORT": str(free_port())},
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("quart-chat: Hypercorn 0.19.0 is installed, but ")
    assert "Traceback" not in run.stderr


async def test_a_closed_websocket_is_freed_at_once_not_when_its_ping_is_due() -> None:
    app = App()
    async with hypercorn(app, ping_interval=60, limits=Limits()) as served:
        async with connect(f"ws://127.0.0.1:{served.port}/"):
            await until(lambda: len(keepalives()) == 1, timeout=5, what="the keepalive to start")
        await until(lambda: keepalives() == [], timeout=2, what="the keepalive to end with its socket")


async def test_a_ping_without_a_pong_resets_the_connection() -> None:
    drops: list[str] = []
    app = App()
    limits = Limits(pong_timeout=0.3, on_drop=drops.append)
    async with hypercorn(app, ping_interval=0.2, limits=limits) as served:
        answering = await connect(f"ws://127.0.0.1:{served.port}/", ping_interval=None)  # pongs, as browsers do
        reader = await raw_websocket(served)  # reads, never answers
        await read_until_reset(reader, within=3)
        await asyncio.wait_for(app.disconnected.wait(), 2)  # the app heard it at once
        assert drops == [PONG_TIMEOUT]
        pong = await answering.ping()  # after several of the server's pings, this one is still open
        await asyncio.wait_for(pong, 2)
        await answering.close()


async def test_a_write_the_client_does_not_take_resets_the_connection() -> None:
    drops: list[str] = []
    app = App(flood=kernel_send_buffer_max() + 4 * 2**20)  # more than the kernel's buffers hold
    async with hypercorn(app, ping_interval=60, limits=Limits(send_timeout=0.5, on_drop=drops.append)) as served:
        reader = await raw_websocket(served, receive_buffer=4096)  # and then reads nothing
        await asyncio.wait_for(app.disconnected.wait(), 5)
        assert drops == [SEND_TIMEOUT]
        await read_until_reset(reader, within=5)


async def test_a_close_the_client_does_not_answer_resets_the_connection() -> None:
    """Quart, like this app, waits for the disconnect after its close; a frozen tab never sends it."""
    drops: list[str] = []
    app = App(close=True)
    async with hypercorn(app, ping_interval=60, limits=Limits(send_timeout=0.3, on_drop=drops.append)) as served:
        reader = await raw_websocket(served)  # takes the close frame, never answers it
        await asyncio.wait_for(app.disconnected.wait(), 3)
        assert drops == [CLOSE_TIMEOUT]
        await read_until_reset(reader, within=3)


async def test_a_compressed_message_is_inflated_up_to_the_configured_cap_and_no_further() -> None:
    """The extension Hypercorn negotiates stops at the config's cap (64 KiB here): a 16 MiB bomb
    never exists inflated in this process (tracemalloc's peak; upstream: 16 MiB and copies)."""
    app = App()
    drops: list[str] = []
    limits = Limits(send_timeout=2, on_drop=drops.append)
    async with hypercorn(app, ping_interval=60, limits=limits, max_message_size=65536) as served:
        async with connect(f"ws://127.0.0.1:{served.port}/") as ws:  # offers permessage-deflate
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            await ws.send(bytes(65536))  # the cap exactly: 64 KiB of zeros, some 100 bytes on the wire
            await until(lambda: app.received == [65536], timeout=5, what="the app to get the message")
            bomb = bytes(16 << 20)
            tracemalloc.start()
            try:
                await ws.send(bomb)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert peak < 2 << 20, f"refusing a 16 MiB bomb took {peak / 2**20:.1f} MiB"
        await asyncio.wait_for(app.disconnected.wait(), 2)
        assert app.received == [65536] and drops == []  # a close the client answered, not a reset


async def test_a_protocol_error_is_answered_with_its_close_code() -> None:
    """wsproto's own errors (here text that is not UTF-8) used to end the connection with no close frame."""
    app = App()
    async with hypercorn(app, ping_interval=60, limits=Limits(send_timeout=2)) as served:
        reader = await raw_websocket(served)
        served.clients[-1].write(bytes([0x81, 0x82]) + bytes(4) + b"\xff\xfe")  # masked with a zero key
        assert await asyncio.wait_for(close_code_from(reader), 5) == 1007
        await asyncio.wait_for(app.disconnected.wait(), 2)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # and then the server's EOF
