"""Messages far above the cap, against a real Hypercorn: a compression bomb, and a client that
sends on after its 1009. Each must cost the server bounded memory (its peak resident set, VmHWM,
read from /proc) and end in 1009 for the client, while the server goes on serving everyone else.

The cap is Hypercorn's ``websocket_max_message_size``, which the launcher sizes from
CHAT_MAX_FRAME_BYTES: max(4 x 64 KiB, 1 MiB) = 1 MiB here.
"""

from __future__ import annotations

import asyncio
import struct
import time
from pathlib import Path

import pytest

from tests.support.hostile_clients import close_code_from, open_raw_socket, peak_rss_mib
from tests.support.http_user import RemoteUser, closed_with, collect_rows, say
from tests.support.server import ChatServer, metric

pytestmark = pytest.mark.server

OPEN = "chat_connections_open"
# Refused as they arrive, a bomb or a flood costs the server the cap (1 MiB) and a few copies of
# it: measured +1 to +3 MiB. Unfixed, the 64 MiB bomb below took the peak up by 189 MiB, and a
# flood was kept whole (300 MiB sent after the 1009: +290 MiB). 16 MiB fails on anything that
# inflates or buffers a quarter of the bomb.
PEAK_BOUND_MIB = 16


async def warmed_up(server: ChatServer) -> RemoteUser:
    """Ada, signed up, who has sent and received a row on a compressed socket (so the server's
    peak is measured after its first socket's costs, not with them)."""
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    async with ada.socket() as ws:
        await say(ws, "warm-up")
        await collect_rows(ws, 1)
    return ada


async def test_a_compression_bomb_is_closed_1009_without_being_inflated(tmp_path: Path) -> None:
    server = ChatServer(tmp_path / "data").start()
    ada: RemoteUser | None = None
    try:
        ada = await warmed_up(server)
        peak = peak_rss_mib(server.pid)
        async with ada.socket() as ws:  # the websockets client offers permessage-deflate, as browsers do
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            await ws.send("\0" * (64 << 20))  # one frame: 64 MiB inflated, about 64 KiB on the wire
            code, _ = await closed_with(ws, within=10)
        assert code == 1009
        grown = peak_rss_mib(server.pid) - peak
        assert grown < PEAK_BOUND_MIB, f"a 64 MiB compression bomb took the server's peak up by {grown:.0f} MiB"

        async with ada.socket() as ws:  # and the server goes on as before
            await say(ws, "still here")
            assert [text for _, text in await collect_rows(ws, 2)][-1] == "still here"
        assert metric(server, OPEN) <= 1
    finally:
        if ada is not None:
            await ada.close()
        server.kill()


async def test_a_client_that_sends_on_after_its_1009_is_cut_off_within_the_send_timeout(tmp_path: Path) -> None:
    """A client that ignores the 1009 and streams on (upstream Hypercorn kept appending what it sent
    to the message it had refused, for as long as it sent): the server reads and drops it for
    CHAT_SEND_TIMEOUT at most, then resets the connection."""
    send_timeout = 2.0
    server = ChatServer(tmp_path / "data", CHAT_SEND_TIMEOUT=str(send_timeout)).start()
    ada: RemoteUser | None = None
    try:
        ada = await warmed_up(server)
        peak = peak_rss_mib(server.pid)
        reader, writer = await open_raw_socket(server, ada)
        # One binary frame that says it is 1 TiB long (masked with a zero key: the payload is as sent).
        writer.write(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + bytes(4))
        code = asyncio.create_task(close_code_from(reader))
        chunk = bytes(1 << 16)
        started = time.monotonic()
        deadline = started + send_timeout + 8
        cut_off = False
        while time.monotonic() < deadline:  # about 12 MiB/s, on after the 1009, until the server cuts it off
            try:
                writer.write(chunk)
                await writer.drain()
            except ConnectionError:
                cut_off = True
                break
            await asyncio.sleep(0.005)
        writer.transport.abort()
        assert cut_off, f"the server still took data {deadline - started:.0f} s on"
        assert await asyncio.wait_for(code, 5) == 1009
        assert metric(server, "chat_connections_dropped_total", '{reason="close_timeout"}') == 1
        assert f"it sent on for {send_timeout:g} s after a close it had to answer" in server.log()
        grown = peak_rss_mib(server.pid) - peak
        assert grown < PEAK_BOUND_MIB, f"a client sending on after its 1009 took the peak up by {grown:.0f} MiB"
        assert metric(server, OPEN) == 0
    finally:
        if ada is not None:
            await ada.close()
        server.kill()
