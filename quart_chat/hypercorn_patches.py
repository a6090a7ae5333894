"""Fixes to Hypercorn 0.18's transport against clients that stop reading or answering, or send too much (issue 12).

The launcher applies them (:func:`apply`) before it serves. Written against Hypercorn 0.18.0
(``hypercorn/asyncio/tcp_server.py``, ``hypercorn/protocol/ws_stream.py``) and wsproto 1.3;
:func:`apply` refuses any other version of either, so an upgrade fails at start-up instead of
serving unpatched. A replaced function is upstream's, copied, with each change marked
``# quart-chat:``; the others wrap upstream's.

1. **A write waits for the client without a bound.** ``TCPServer.protocol_send`` awaits
   ``writer.drain()``: a client that stops reading (or a frozen one, once the kernel's buffers
   are full) keeps it waiting forever, every later write (the 1013 close, the pings) queues
   behind it on the send lock, and ``_close`` waits for the same full buffer to flush.
   Fixed: a drain, and a close's flush, wait at most ``send_timeout``; then the connection is
   *reset* (SO_LINGER 0 and ``transport.abort()``: unsent bytes discarded, the kernel's too)
   and its stream closed at once, so the app hears the disconnect.
2. **A close nobody answers.** After the app sends its close, Quart (its ASGI app) and the
   connection wait for the peer's close frame without a bound; a frozen tab never sends it.
   Fixed: the peer has ``send_timeout`` to answer (websockets' ``close_timeout``), then reset.
3. **Pings, but no pongs.** ``WSStream._send_pings`` pings every ``websocket_ping_interval``
   and ``_handle_events`` drops the Pong events wsproto reports, so a client frozen with
   SIGSTOP (or a phone gone from the network without a FIN) stays open for ever. Fixed: each
   ping carries a counter, and one whose pong is not back within ``pong_timeout`` resets the
   connection, as ASP.NET's ``KeepAliveTimeout`` does (websockets first sends a 1011 close
   and resets after its close timeout: for a peer that answers nothing the close is moot).
4. **A closed WebSocket is freed only when its ping task wakes.** ``_send_pings`` sleeps a
   whole interval before it looks at ``closed``, and ``TCPServer.run`` waits for it in the
   connection's task group; meanwhile the task holds the stream, its wsproto connection with
   permessage-deflate's zlib state, the ``TCPServer`` and its socket: 2,000 quick connect/close
   cycles grew the process by 247 MiB, which glibc does not give back after. Fixed: it waits
   on an event that setting ``closed`` sets, and ends with its stream.
5. **Deflate state sized for a file download.** Hypercorn accepts permessage-deflate with
   wsproto's defaults (~250 KiB of zlib state per open socket). Fixed: it offers
   :class:`quart_chat.deflate.ChatDeflate`, sized for chat rows (~40 KiB).
6. **A message too big is refused only after it is held.** wsproto inflates a compressed read
   with no limit (one 64 KiB read of zeros: 64 MiB, and copies) before Hypercorn compares the
   message with ``websocket_max_message_size``; and once it has, ``_handle_events`` sends 1009
   but reads on, one event per read, appending each to the message it refused and never
   clearing it, so a client that keeps sending grows the process by all it sends (300 MiB sent
   after the 1009: +290 MiB, still held a second after it left), and the client's answer to
   the close waits behind that backlog. wsproto's own errors (ParseFailed: 1002, 1007) reach
   ``_handle_events`` as a CloseConnection while the connection is still open, and upstream
   ends it without a close frame. Fixed: ChatDeflate inflates at most
   ``websocket_max_message_size`` per message and refuses the rest as such an error (1009); any
   of these now *fails* the connection (RFC 6455 7.1.7, :func:`_fail`): the close frame with
   the code, the message dropped, the stream ended (the app hears it at once), and the TCP
   connection half-closed and drained, unparsed, until the client closes its side, or reset
   after ``send_timeout``.

Upstream would add ``send_timeout`` and ``pong_timeout`` to ``Config`` beside ``read_timeout``
and ``websocket_ping_interval``; here they travel on the Config as one :class:`Limits`
(:func:`set_limits`). Without Limits the patched server behaves as upstream's, except that
fix 4 always holds. Only the asyncio worker is patched: the launcher serves with
``hypercorn.asyncio.serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import version

from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.protocol import ws_stream
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import ASGIWebsocketState, FrameTooLargeError, WSStream
from hypercorn.typing import WebsocketAcceptEvent
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Message, Ping, Pong
from wsproto.frame_protocol import CloseReason

from quart_chat.deflate import ChatDeflate

log = logging.getLogger("quart_chat.transport")

WRITTEN_AGAINST = {"hypercorn": ("0.18.0",), "wsproto": ("1.3",)}
"""Versions (or version prefixes) whose code these patches and :mod:`quart_chat.deflate` were checked against."""

SEND_TIMEOUT = "send_timeout"
CLOSE_TIMEOUT = "close_timeout"
PONG_TIMEOUT = "pong_timeout"
"""Why a connection was dropped: what :attr:`Limits.on_drop` is called with."""


class UnsupportedHypercorn(RuntimeError):
    """The installed Hypercorn (or wsproto) is not one these patches were written against."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a connection may cost before it is dropped; ``None``: no bound, as upstream."""

    send_timeout: float | None = None  # seconds a write, a close's flush or the answer to a close may take
    pong_timeout: float | None = None  # seconds from a ping to its pong
    on_drop: Callable[[str], None] | None = None  # told SEND_TIMEOUT, CLOSE_TIMEOUT or PONG_TIMEOUT, once


UNBOUNDED = Limits()
_LIMITS = "quart_chat_limits"


def set_limits(config: Config, limits: Limits) -> None:
    """Give every connection served with ``config`` these limits."""
    setattr(config, _LIMITS, limits)


def limits_of(config: Config) -> Limits:
    return getattr(config, _LIMITS, UNBOUNDED)


_applied = False


def apply() -> None:
    """Patch Hypercorn (once per process); raise :class:`UnsupportedHypercorn` on another version."""
    global _applied
    for package, versions in WRITTEN_AGAINST.items():
        installed = version(package)
        if not any(installed == v or installed.startswith(v + ".") for v in versions):
            raise UnsupportedHypercorn(
                f"{package.capitalize()} {installed} is installed, but quart_chat/hypercorn_patches.py was "
                f"written against {', '.join(versions)}; check each patched function against the new version "
                "and add it to WRITTEN_AGAINST (or install the version pyproject.toml pins)."
            )
    if _applied:
        return
    ws_stream.PerMessageDeflate = _chat_deflate  # what Handshake.accept offers a browser
    WSStream._accept = _accept
    TCPServer.run = _run
    TCPServer.protocol_send = _protocol_send
    TCPServer._close = _close
    WSStream.closed = property(_is_closed, _set_closed)
    WSStream._handle_events = _handle_events
    WSStream._send_pings = _keepalive
    WSStream.app_send = _app_send
    _applied = True


# --- the TCP connection: bounded writes, a bounded close, the reset -----------------------

# The connection a stream belongs to. Set when TCPServer.run starts, so every task the
# connection spawns (the app, the keepalive) inherits it: how a WebSocket stream, which only
# holds its protocol's send function, reaches its transport to reset it.
_connection: ContextVar[TCPServer | None] = ContextVar("quart_chat_connection", default=None)
_upstream_run = TCPServer.run
_upstream_protocol_send = TCPServer.protocol_send
_upstream_close = TCPServer._close


async def _run(self: TCPServer) -> None:
    _connection.set(self)
    await _upstream_run(self)


# SO_LINGER on, for 0 s: close() resets the connection and frees the kernel's send buffer.
# asyncio's transport.abort() alone only drops its own buffer and closes the socket, which
# leaves the kernel holding what is unsent (megabytes for a client that reads nothing) in
# FIN-WAIT-1, trying to deliver it until the orphan times out.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


async def _drop(server: TCPServer, reason: str, detail: str) -> None:
    """Reset the TCP connection (unsent data discarded, here and in the kernel); close its stream now."""
    transport = server.writer.transport
    if getattr(server, "_quart_chat_dropped", False):
        return
    server._quart_chat_dropped = True  # type: ignore[attr-defined]
    peer = server.writer.get_extra_info("peername")
    log.warning("dropped connection from %s: %s", peer[0] if isinstance(peer, tuple) else peer, detail)
    sock = server.writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
    transport.abort()
    on_drop = limits_of(server.config).on_drop
    if on_drop is not None:
        on_drop(reason)
    await server.protocol.handle(Closed())  # the app hears the disconnect now, not on the next read


async def _protocol_send(self: TCPServer, event: object) -> None:
    send_timeout = limits_of(self.config).send_timeout
    if not isinstance(event, RawData) or send_timeout is None:
        await _upstream_protocol_send(self, event)
        return
    async with self.send_lock:
        try:
            self.writer.write(event.data)
            async with asyncio.timeout(send_timeout):  # quart-chat: bounded
                await self.writer.drain()
        except TimeoutError:  # quart-chat: the client took nothing for send_timeout
            await _drop(self, SEND_TIMEOUT, f"it accepted no data for {send_timeout:g} s")
        except (ConnectionError, RuntimeError):
            await self.protocol.handle(Closed())


async def _close(self: TCPServer) -> None:
    send_timeout = limits_of(self.config).send_timeout
    if send_timeout is None:
        await _upstream_close(self)
        return
    with contextlib.suppress(NotImplementedError, OSError, RuntimeError):
        self.writer.write_eof()  # not on an SSL connection

    try:
        self.writer.close()
        async with asyncio.timeout(send_timeout):  # quart-chat: a close flushes within send_timeout
            await asyncio.shield(self.writer.wait_closed())
    except TimeoutError:
        await _drop(self, SEND_TIMEOUT, f"it did not take the rest of its data within {send_timeout:g} s of the close")
    except (
        BrokenPipeError,
        ConnectionAbortedError,
        ConnectionResetError,
        RuntimeError,
        asyncio.CancelledError,
    ):
        pass  # Already closed
    finally:
        await self.idle_task.stop()


# --- the WebSocket stream: deflate bounded by the message cap ------------------------------

# The config of the stream being accepted: Handshake.accept makes the extension with no
# arguments (``PerMessageDeflate()``), so the stream's cap reaches it this way.
_accepting: ContextVar[Config | None] = ContextVar("quart_chat_accepting", default=None)
_upstream_accept = WSStream._accept


def _chat_deflate() -> ChatDeflate:
    config = _accepting.get()
    return ChatDeflate(max_message_bytes=(config or Config()).websocket_max_message_size)


async def _accept(self: WSStream, message: WebsocketAcceptEvent) -> None:
    token = _accepting.set(self.config)
    try:
        await _upstream_accept(self, message)
    finally:
        _accepting.reset(token)


# --- the WebSocket stream: a keepalive that wants its pongs, a close that wants its answer --


class _Watch:
    """What one stream waits for: the pong to its last ping, its peer's close; one event wakes both."""

    __slots__ = ("awaited", "count", "wake")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.awaited: bytes | None = None
        self.count = 0

    def ping(self) -> Ping:
        self.count = (self.count + 1) % 2**32
        self.awaited = self.count.to_bytes(4, "big")
        return Ping(payload=self.awaited)

    def pong(self, payload: bytes) -> None:
        if payload == self.awaited:  # an unsolicited or stale pong proves nothing
            self.awaited = None
            self.wake.set()

    async def sleep(self, seconds: float, done: Callable[[], bool]) -> None:
        """Wait up to ``seconds``, ending early once ``done()`` holds (checked at each wake)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done() and (left := deadline - loop.time()) > 0:
            self.wake.clear()
            try:
                async with asyncio.timeout(left):
                    await self.wake.wait()
            except TimeoutError:
                return


def _watch_of(stream: WSStream) -> _Watch:
    watch = stream.__dict__.get("_quart_chat_watch")
    if watch is None:
        watch = stream.__dict__["_quart_chat_watch"] = _Watch()
    return watch


def _is_closed(stream: WSStream) -> bool:
    return stream.__dict__.get("_quart_chat_closed", False)


def _set_closed(stream: WSStream, closed: bool) -> None:
    stream.__dict__["_quart_chat_closed"] = closed
    if closed:
        _watch_of(stream).wake.set()  # whatever waits on the stream ends now, not an interval later


async def _keepalive(self: WSStream) -> None:
    """Upstream's ``_send_pings``: ends when the stream closes, drops a peer that stops answering."""
    watch = _watch_of(self)
    pong_timeout = limits_of(self.config).pong_timeout
    loop = asyncio.get_running_loop()
    while not self.closed:
        sent = loop.time()
        await self._send_wsproto_event(watch.ping())
        if pong_timeout is not None:
            await watch.sleep(pong_timeout, lambda: self.closed or watch.awaited is None)
            if self.closed:
                return
            if watch.awaited is not None:
                await _drop_stream(self, PONG_TIMEOUT, f"no answer to a ping within {pong_timeout:g} s")
                return
        await watch.sleep(self.config.websocket_ping_interval - (loop.time() - sent), lambda: self.closed)


_upstream_app_send = WSStream.app_send


async def _app_send(self: WSStream, message: dict | None) -> None:
    connected = self.state == ASGIWebsocketState.CONNECTED
    closing = connected and message is not None and message["type"] == "websocket.close"
    await _upstream_app_send(self, message)  # type: ignore[arg-type]
    send_timeout = limits_of(self.config).send_timeout
    if closing and send_timeout is not None and not self.closed:
        self.task_group.spawn(_await_close, self, send_timeout)


async def _await_close(stream: WSStream, timeout: float) -> None:
    """The app has sent its close: the peer has ``timeout`` to answer it (websockets' close_timeout).

    Until it does, the ASGI app (Quart waits for the disconnect) and the connection stay open.
    """
    await _watch_of(stream).sleep(timeout, lambda: stream.closed)
    if not stream.closed:
        await _drop_stream(stream, CLOSE_TIMEOUT, f"no answer to its close within {timeout:g} s")


async def _drop_stream(stream: WSStream, reason: str, detail: str) -> None:
    server = _connection.get()
    if server is not None:
        await _drop(server, reason, detail)
    else:  # not served by the asyncio TCPServer: close the stream at least
        await stream.send(StreamClosed(stream_id=stream.stream_id))


async def _fail(stream: WSStream, code: int) -> None:
    """Fail the WebSocket connection (RFC 6455 7.1.7): the close frame says why, the message is
    dropped, the app hears the disconnect now, and nothing more is parsed or inflated.

    Then the TCP connection *lingers*: half-closed after the close frame, it reads and throws away
    what the client still sends until the client closes its side, for at most ``send_timeout``,
    and is reset after that. Closing at once would leave unread bytes in the socket (the rest of a
    message too big), and a close with unread bytes sends a reset, which makes the client drop
    the close frame it has not read yet: it would see 1006 instead of 1009. websockets' server
    fails a connection the same way (close frame, EOF, discard).
    """
    reason = "message too big" if code == CloseReason.MESSAGE_TOO_BIG else None
    await stream._send_wsproto_event(CloseConnection(code=code, reason=reason))
    stream.buffer.clear()
    server = _connection.get()
    send_timeout = limits_of(stream.config).send_timeout
    if server is None or send_timeout is None or not isinstance(server.protocol.protocol, H11Protocol):
        # No bound for the linger (or a stream of HTTP/2, whose connection is not its own): close now.
        await stream.send(StreamClosed(stream_id=stream.stream_id))
        return
    await stream.handle(StreamClosed(stream_id=stream.stream_id))  # the app hears it; later data is dropped
    with contextlib.suppress(NotImplementedError, OSError, RuntimeError):
        server.writer.write_eof()  # after the close frame
    try:
        async with asyncio.timeout(send_timeout):
            while await server.reader.read(MAX_RECV):  # this connection's read loop is waiting on us
                pass
    except TimeoutError:
        await _drop(server, CLOSE_TIMEOUT, f"it sent on for {send_timeout:g} s after a close it had to answer")
        return
    except (ConnectionError, OSError):
        pass
    await stream.send(StreamClosed(stream_id=stream.stream_id))  # the connection closes, nothing left unread


async def _handle_events(self: WSStream) -> None:
    for event in self.connection.events():
        if isinstance(event, Message):
            try:
                self.buffer.extend(event)
            except FrameTooLargeError:  # quart-chat: upstream sends 1009 and reads on
                await _fail(self, CloseReason.MESSAGE_TOO_BIG)
                break

            if event.message_finished:
                await self.app_put(self.buffer.to_message())
                self.buffer.clear()
        elif isinstance(event, Ping):
            await self._send_wsproto_event(event.response())
        elif isinstance(event, Pong):  # quart-chat: the keepalive waits for it
            _watch_of(self).pong(event.payload)
        elif isinstance(event, CloseConnection):
            if self.connection.state == ConnectionState.OPEN:  # quart-chat: wsproto's own error (ParseFailed)
                await _fail(self, event.code)
                break
            if self.connection.state == ConnectionState.REMOTE_CLOSING:
                await self._send_wsproto_event(event.response())
            await self.send(StreamClosed(stream_id=self.stream_id))
