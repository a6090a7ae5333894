"""permessage-deflate sized for chat frames: what each open socket's zlib state costs.

Every browser offers permessage-deflate, and Hypercorn 0.18 accepts it with wsproto's defaults:
a compressor with a 32 KiB window (``wbits`` 15) and zlib's default ``memLevel`` 8, kept for
the socket's life (about 236 KiB resident once some rows have gone through it), and a
decompressor (about 40 KiB) from the browser's first frame on. Chat frames are rows of about
half a KiB whose markup repeats from one row to the next, so a short history finds nearly every
repeat. On the app's own frames (``benchmarks/bench_deflate.py``, RESULTS-connection-memory.md):

==========================  ===========  =============  ========================
compressor                  on the wire  CPU per frame  resident per compressor
==========================  ===========  =============  ========================
wbits 15, memLevel 8        9.0 %        17.2 us        236 KiB
wbits 12, memLevel 5 (this) 10.0 %       10.6 us        38 KiB
wbits 11, memLevel 4        24.4 %       17.3 us        22 KiB
no context takeover         39.8 %       20.3 us        0 between frames
==========================  ===========  =============  ========================

So the server compresses with 4 KiB of history (a smaller window than negotiated is always
decodable: the browser's decompressor only needs one at least as large) and small hash tables,
and asks the browser not to carry context between its own frames (``client_no_context_takeover``,
RFC 7692 7.1.1.2), so the decompressor is freed after each message: browsers send rarely and
little. wsproto 1.3 lets a caller set the window and the context takeover but not ``memLevel``;
this sets it by making the compressor itself, where wsproto would make its own.

**Inflating within a bound.** wsproto inflates whatever arrives with no output limit, and Hypercorn
counts a message against ``websocket_max_message_size`` only once it is inflated; deflate reaches
1032:1, so one 64 KiB read of zeros became 64 MiB (and its copies) before the cap was looked at.
Here a message's inflated bytes are counted as they come (``max_length`` on each ``decompress``,
as tornado and Node's ws bound theirs): the first byte over ``max_message_bytes`` refuses it with 1009,
so a message costs at most that much output, and the decompressor, with what it had not yet
read, is dropped at once. The bound counts bytes, Hypercorn's cap characters (for text): bytes are
never fewer, so this refuses first and Hypercorn's own check still holds for uncompressed frames.

**Control frames between fragments.** wsproto 1.3 clears the message's "compressed" flag on any
control frame, so a ping or pong between the fragments of a compressed message made the rest of
it arrive still compressed (1007 for text; python-hyper/wsproto#205, open). Here a control frame
leaves the message's state alone.
"""

from __future__ import annotations

import zlib

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

WINDOW_BITS = 12  # 4 KiB of history: about eight rows
MEM_LEVEL = 5  # zlib's hash table and pending buffer at 1/8 of the default (memLevel 8)
_SYNC_TAIL = b"\x00\x00\xff\xff"  # the empty block RFC 7692 7.2.2 has the sender strip from each message


class ChatDeflate(PerMessageDeflate):
    """wsproto's permessage-deflate with a compressor sized for chat rows and an inflater that stops
    at ``max_message_bytes`` per message (see the module's notes)."""

    def __init__(self, max_message_bytes: int) -> None:
        super().__init__(client_no_context_takeover=True)
        self.max_message_bytes = max_message_bytes
        self._inflated = 0  # bytes inflated so far of the message being received

    def frame_inbound_header(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():  # never compressed, and not part of the message it may interrupt
            if rsv.rsv1:
                return CloseReason.PROTOCOL_ERROR
            self._inbound_is_compressible = False
            return RsvBits(True, False, False)
        if self._inbound_compressed is None:  # a new message
            self._inflated = 0
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(self, proto: FrameDecoder | FrameProtocol, data: bytes) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        return self._inflate(data)

    def frame_inbound_complete(self, proto: FrameDecoder | FrameProtocol, fin: bool) -> bytes | CloseReason | None:
        if not self._inbound_is_compressible:
            return None  # a control frame: the message it interrupted goes on as it was
        if not fin or not self._inbound_compressed:
            return super().frame_inbound_complete(proto, fin)
        tail = self._inflate(_SYNC_TAIL)
        if isinstance(tail, CloseReason):
            return tail
        no_context_takeover = self.server_no_context_takeover if proto.client else self.client_no_context_takeover
        if no_context_takeover:
            self._decompressor = None
        self._inbound_compressed = None
        return tail

    def _inflate(self, data: bytes) -> bytes | CloseReason:
        """Inflate what the message may still grow by, and one byte more to know it wanted more."""
        assert self._decompressor is not None
        room = self.max_message_bytes - self._inflated
        try:
            out = self._decompressor.decompress(data, room + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        if len(out) > room:
            self._decompressor = None  # and the input it had not read: the connection ends here
            return CloseReason.MESSAGE_TOO_BIG
        self._inflated += len(out)
        return out

    def frame_outbound(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY) and not proto.client:
            # Never more than what the client allows (a server_max_window_bits in its offer).
            bits = min(WINDOW_BITS, self.server_max_window_bits)
            self._compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, MEM_LEVEL)
        return super().frame_outbound(proto, opcode, rsv, data, fin)
