"""ChatDeflate, sans-I/O: a wsproto server and client in memory, negotiating as a browser and Hypercorn do."""

from __future__ import annotations

import os
import tracemalloc

from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage
from wsproto.extensions import PerMessageDeflate

from quart_chat.deflate import ChatDeflate

ROW = (
    '<hx-upsert hx-target="#messages"><li class="msg" id="m-{i}" data-key="0179593959{i:07d}-1">'
    '<span class="who"><a href="/people/ada">Ada</a></span><span class="text">row {i} {text}</span></li></hx-upsert>'
)


def negotiated(server_ext: PerMessageDeflate, offer: str) -> tuple[Connection, Connection]:
    """A server with ``server_ext`` that accepted a browser's ``offer``, and that browser."""
    response = server_ext.accept(offer)
    assert isinstance(response, str)
    client_ext = PerMessageDeflate()
    client_ext.finalize(f"permessage-deflate; {response}")
    return Connection(ConnectionType.SERVER, [server_ext]), Connection(ConnectionType.CLIENT, [client_ext])


def through(sender: Connection, receiver: Connection, text: str) -> str:
    return through_bytes(receiver, sender.send(TextMessage(data=text)))


CHROME_OFFER = "permessage-deflate; client_max_window_bits"


def test_rows_reach_the_browser_intact_and_small() -> None:
    server, browser = negotiated(ChatDeflate(), CHROME_OFFER)
    raw = wire = 0
    for i in range(200):
        row = ROW.format(i=i, text=os.urandom(8).hex())
        data = server.send(TextMessage(data=row))
        browser.receive_data(data)
        assert [e.data for e in browser.events() if isinstance(e, TextMessage)] == [row]
        raw, wire = raw + len(row), wire + len(data)
    assert wire < raw / 3  # rows repeat their markup: most of it is back-references


def test_the_browser_is_asked_not_to_keep_context_so_no_inflater_outlives_its_message() -> None:
    assert "client_no_context_takeover" in str(ChatDeflate().accept(CHROME_OFFER))
    kept_by_default = traced_bytes_kept(PerMessageDeflate(), inbound=True)
    assert kept_by_default > 32 * 1024  # zlib's 32 KiB window and its state, for the socket's life
    assert traced_bytes_kept(ChatDeflate(), inbound=True) < 2 * 1024


def test_a_window_the_browser_limits_is_honoured() -> None:
    """The client may cap the server's window (server_max_window_bits=10: 1 KiB of history kept
    between messages); a message repeating one 2 KiB back must not refer to it, or the client
    could not decode it."""
    server, browser = negotiated(ChatDeflate(), "permessage-deflate; server_max_window_bits=10")
    block = os.urandom(1024).hex()  # 2 KiB of text that does not compress by itself
    assert through(server, browser, block) == block
    assert through(server, browser, block) == block


def traced_bytes_kept(ext: PerMessageDeflate, inbound: bool = False) -> int:
    """What one message leaves allocated on the server's side of ``ext`` (zlib allocates through
    PyMem_RawMalloc, which tracemalloc traces): its compressor when it sends, its decompressor
    when the browser does."""
    server, browser = negotiated(ext, CHROME_OFFER)
    row = ROW.format(i=1, text="first")
    data = browser.send(TextMessage(data=row)) if inbound else b""
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        if inbound:
            server.receive_data(data)
            assert [e.data for e in server.events() if isinstance(e, TextMessage)] == [row]
        else:
            data = server.send(TextMessage(data=row))
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    if not inbound:
        assert through_bytes(browser, data) == row
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def through_bytes(receiver: Connection, data: bytes) -> str:
    receiver.receive_data(data)
    return "".join(event.data for event in receiver.events() if isinstance(event, TextMessage))


def test_the_compressor_costs_a_fraction_of_wsprotos_default() -> None:
    assert traced_bytes_kept(PerMessageDeflate()) > 250 * 1024  # wbits 15, memLevel 8: 256 KiB and the state
    assert traced_bytes_kept(ChatDeflate()) < 48 * 1024  # wbits 12, memLevel 5: 32 KiB and the state
