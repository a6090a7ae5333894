"""ChatDeflate, sans-I/O: a wsproto server and client in memory, negotiating as a browser and Hypercorn do."""

from __future__ import annotations

import os
import tracemalloc
import zlib

from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason

from quart_chat.deflate import ChatDeflate

CAP = 1 << 20  # what the launcher gives Hypercorn's websocket_max_message_size by default

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
    server, browser = negotiated(ChatDeflate(CAP), CHROME_OFFER)
    raw = wire = 0
    for i in range(200):
        row = ROW.format(i=i, text=os.urandom(8).hex())
        data = server.send(TextMessage(data=row))
        browser.receive_data(data)
        assert [e.data for e in browser.events() if isinstance(e, TextMessage)] == [row]
        raw, wire = raw + len(row), wire + len(data)
    assert wire < raw / 3  # rows repeat their markup: most of it is back-references


def test_the_browser_is_asked_not_to_keep_context_so_no_inflater_outlives_its_message() -> None:
    assert "client_no_context_takeover" in str(ChatDeflate(CAP).accept(CHROME_OFFER))
    kept_by_default = traced_bytes_kept(PerMessageDeflate(), inbound=True)
    assert kept_by_default > 32 * 1024  # zlib's 32 KiB window and its state, for the socket's life
    assert traced_bytes_kept(ChatDeflate(CAP), inbound=True) < 2 * 1024


def test_a_window_the_browser_limits_is_honoured() -> None:
    """The client may cap the server's window (server_max_window_bits=10: 1 KiB of history kept
    between messages); a message repeating one 2 KiB back must not refer to it, or the client
    could not decode it."""
    server, browser = negotiated(ChatDeflate(CAP), "permessage-deflate; server_max_window_bits=10")
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
    assert traced_bytes_kept(ChatDeflate(CAP)) < 48 * 1024  # wbits 12, memLevel 5: 32 KiB and the state


# --- inflating within the cap: a compression bomb -----------------------------------------


def masked_frame(payload: bytes, *, first: bool = True, fin: bool = True) -> bytes:
    """A frame as a browser sends it (masked, here with a zero key), compressed (RSV1) if ``first``."""
    head = (0x80 if fin else 0) | (0x40 | 0x1 if first else 0x0)  # TEXT with RSV1, or CONTINUATION
    n = len(payload)
    size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    assert n < 2**16
    return bytes([head]) + size + bytes(4) + payload


def bomb_frame(inflated: int) -> bytes:
    """One compressed text frame of ``inflated`` zero bytes (about 1/1000 of that on the wire),
    compressed piece by piece so the test never holds it inflated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    body = b"".join(compressor.compress(zeros) for _ in range(inflated >> 20))
    return masked_frame(body + compressor.flush(zlib.Z_SYNC_FLUSH)[:-4])


def receive_traced(ext: PerMessageDeflate, data: bytes) -> tuple[list, int]:
    """The events a server with ``ext`` reports for ``data`` from a browser, and the most memory
    they took at once (tracemalloc traces zlib's buffers, allocated through PyMem)."""
    server, _ = negotiated(ext, CHROME_OFFER)
    tracemalloc.start()
    try:
        server.receive_data(data)
        events = list(server.events())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return events, peak


def test_a_compression_bomb_is_refused_with_1009_without_inflating_past_the_cap() -> None:
    bomb = bomb_frame(16 << 20)  # 16 KiB on the wire, 16 MiB inflated: one read of a socket
    events, peak = receive_traced(ChatDeflate(CAP), bomb)
    assert [type(e) for e in events] == [CloseConnection]
    assert events[0].code == CloseReason.MESSAGE_TOO_BIG
    assert peak < 3 * CAP, f"refusing a bomb took {peak / 2**20:.1f} MiB"  # the cap's output, and a copy
    # wsproto's own inflater holds the whole of it, and copies, before Hypercorn can look at its size.
    events, peak = receive_traced(PerMessageDeflate(), bomb)
    assert sum(len(e.data) for e in events if isinstance(e, TextMessage)) == 16 << 20
    assert peak > 16 << 20


def test_a_fragmented_bomb_is_refused_once_its_fragments_add_up_past_the_cap() -> None:
    """Eight fragments of a quarter of the cap each, every one flushed (as a browser streaming a
    long message does): each alone is small, the message is not."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = bytes(CAP // 4)
    frames = [masked_frame(compressor.compress(piece) + compressor.flush(zlib.Z_SYNC_FLUSH), first=i == 0, fin=False)
              for i in range(8)]
    server, _ = negotiated(ChatDeflate(CAP), CHROME_OFFER)
    server.receive_data(b"".join(frames))
    events = list(server.events())
    assert isinstance(events[-1], CloseConnection) and events[-1].code == CloseReason.MESSAGE_TOO_BIG
    assert sum(len(e.data) for e in events if isinstance(e, TextMessage)) == 4 * len(piece)  # the cap's worth


def test_a_message_of_exactly_the_cap_passes_and_one_byte_more_is_refused() -> None:
    small = 4096
    server, browser = negotiated(ChatDeflate(small), CHROME_OFFER)
    assert through(browser, server, "a" * small) == "a" * small
    assert through(browser, server, "é" * (small // 2)) == "é" * (small // 2)  # the cap counts bytes
    server.receive_data(browser.send(TextMessage(data="a" * (small + 1))))
    assert [(type(e), getattr(e, "code", None)) for e in server.events()] == [
        (CloseConnection, CloseReason.MESSAGE_TOO_BIG)
    ]


def test_rows_from_the_browser_arrive_whole_in_one_frame_or_in_fragments_with_a_ping_between() -> None:
    """What a browser's composer sends: one compressed frame, or (a long message) several; a ping
    or pong may come between fragments (RFC 6455 5.4), which wsproto 1.3 alone turns into 1007."""
    server, browser = negotiated(ChatDeflate(CAP), CHROME_OFFER)
    for i in range(3):  # the cap counts each message from zero again
        row = '{"message": "%s", "headers": {"HX-Request": "true"}}' % ("hello " * 100 * (i + 1))
        assert through(browser, server, row) == row
    half = len(row) // 2
    data = browser.send(TextMessage(data=row[:half], message_finished=False))
    data += browser.send(Ping(payload=b"p"))
    data += browser.send(TextMessage(data=row[half:], message_finished=True))
    server.receive_data(data)
    events = list(server.events())
    assert [e for e in events if isinstance(e, Ping)] == [Ping(payload=b"p")]
    assert "".join(e.data for e in events if isinstance(e, TextMessage)) == row
    assert through(browser, server, row) == row  # and the next message is whole too
