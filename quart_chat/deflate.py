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
"""

from __future__ import annotations

import zlib

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameDecoder, FrameProtocol, Opcode, RsvBits

WINDOW_BITS = 12  # 4 KiB of history: about eight rows
MEM_LEVEL = 5  # zlib's hash table and pending buffer at 1/8 of the default (memLevel 8)


class ChatDeflate(PerMessageDeflate):
    """wsproto's permessage-deflate with a compressor sized for chat rows (see the module's notes)."""

    def __init__(self) -> None:
        super().__init__(client_no_context_takeover=True)

    def frame_outbound(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY) and not proto.client:
            # Never more than what the client allows (a server_max_window_bits in its offer).
            bits = min(WINDOW_BITS, self.server_max_window_bits)
            self._compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits, MEM_LEVEL)
        return super().frame_outbound(proto, opcode, rsv, data, fin)
