"""The Redis hub: fan-out across processes and instances through Redis pub/sub.

Trade-offs, briefly:

- Local first. ``publish`` hands the row to this process's sockets at once (the
  sender included), then queues it for Redis. A publisher task sends the queue
  in order over one connection, pipelined under load, so callers never wait on
  Redis or on any reader, and the room keeps working locally while Redis is
  down. Other instances get ``{"i", "room", "id", "cursor", "html"}`` and skip
  their own echo by the instance id ``i``.
- One pub/sub connection per instance and one channel per room that has local
  sockets: SUBSCRIBE on a room's first socket, UNSUBSCRIBE after its last. Redis
  then sends each instance only the rooms it serves, once, however many sockets
  it has there; the per-socket fan-out stays in :class:`LocalFanout` (bounded
  queues, 1013 for slow consumers). ``subscribe`` waits (briefly) for Redis to
  confirm the channel, so a socket that reads history after subscribing cannot
  miss a row published meanwhile.
- Pub/sub is fire-and-forget: what is published while a link is down is lost,
  and a reader that falls behind is cut off by Redis's output-buffer limit. The
  hub does not replay; it repairs. When a link breaks every local socket gets a
  GAP marker (where its re-read must start); after every (re)connect the hub
  re-subscribes, sends RESYNC to every local socket (which re-reads the store
  from there), and tells other instances which rooms it could not publish to,
  from which cursor, so they resync those rooms from there too. The store is the truth; the hub only makes it
  arrive sooner. While a link is down ``healthy`` is False.
- A dead link is noticed by its socket (a killed server closes it at once) or,
  if it goes silent, by an unanswered PING on the idle pub/sub connection.
  Reconnects back off exponentially with jitter. The connections are used
  without redis-py's retries so that every reconnect goes through the one path
  that resyncs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
import socket
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager, suppress
from itertools import islice
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import GAP, LocalFanout, Resync, Subscription

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "quart-chat:room:"
_LINK_ERRORS = (RedisError, OSError)


def channel_for(room: str) -> str:
    return CHANNEL_PREFIX + room


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisHub:
    """Hub over Redis pub/sub; see the module docstring for the trade-offs."""

    def __init__(
        self,
        url: str,
        queue_size: int = 256,
        instance_id: str | None = None,
        *,
        connect_timeout: float = 1.0,
        ping_interval: float = 0.5,
        max_outbox: int = 10_000,
        backoff_min: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self.url = url
        self.fanout = LocalFanout(queue_size)
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.max_outbox = max_outbox
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.reconnects = 0
        self.dropped_malformed = 0
        self._healthy = False
        self._task: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None  # the pub/sub connection while healthy
        self._broken = asyncio.Event()  # set when the current link fails
        self._tried = asyncio.Event()  # set after the first connection attempt
        self._outbox: deque[tuple[str, str, bytes]] = deque()  # room, cursor (or since), payload
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._missed_rooms: dict[str, str] = {}  # room -> earliest cursor we could not publish
        self._confirm: dict[str, deque[asyncio.Future[bool]]] = {}  # per room, one per SUBSCRIBE sent
        self._ready: dict[str, asyncio.Future[bool]] = {}  # per room, its latest SUBSCRIBE's confirmation

    # -- the Hub protocol -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background; wait for the first attempt only, so a down Redis never stops the app."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._supervise(), name=f"redis-hub {self.instance_id}")
        with suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout * 3):
                await self._tried.wait()
        if not self._healthy:
            log.warning("Redis hub: %s unreachable; retrying in the background", redact(self.url))

    async def stop(self) -> None:
        """Flush what is queued for Redis (briefly), then close the link and end every task."""
        task, self._task = self._task, None
        if task is None:
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout):
                if self._outbox and self._healthy:
                    await self._outbox_empty.wait()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    async def publish(self, broadcast: Broadcast) -> None:
        """Deliver locally now, queue for the other instances; never raises for Redis, never blocks."""
        self.fanout.deliver(broadcast)
        if not self._healthy:
            self._miss(broadcast.room, broadcast.cursor)
            return
        if len(self._outbox) >= self.max_outbox:
            # Redis cannot keep up: treat it as an outage, which ends in a resync everywhere.
            self._miss(broadcast.room, broadcast.cursor)
            self._lose("outbox full")
            return
        payload = {
            "i": self.instance_id,
            "room": broadcast.room,
            "id": broadcast.message_id,
            "cursor": broadcast.cursor,
            "html": broadcast.html,
        }
        self._enqueue(broadcast.room, broadcast.cursor, payload)

    @asynccontextmanager
    async def subscribe(self, room: str) -> AsyncIterator[Subscription]:
        sub, first = self.fanout.add(room)
        if not self._healthy:
            sub.offer(GAP)  # what other instances publish now is missed until the link is back
        try:
            ready = self._ready.get(room)
            if first:
                ready = await self._subscribe_channel(room)
            if ready is not None and not ready.done():
                try:
                    async with asyncio.timeout(self.connect_timeout):
                        await asyncio.shield(ready)
                except TimeoutError:
                    # Rows published meanwhile may be missed; a slow link is about to be declared dead
                    # by the PING check, and the reconnect resyncs this socket.
                    log.warning("Redis hub: SUBSCRIBE %r not confirmed in time", room)
            yield sub
        finally:
            if self.fanout.remove(sub):
                self._ready.pop(room, None)
                await self._send("UNSUBSCRIBE", channel_for(room))

    @property
    def healthy(self) -> bool:
        return self._healthy

    def close_all(self, code: int, reason: str) -> None:
        self.fanout.close_all(code, reason)

    # -- the link ---------------------------------------------------------------------------------

    def _miss(self, room: str, cursor: str) -> None:
        """Remember the earliest row of ``room`` the other instances did not get."""
        known = self._missed_rooms.get(room)
        self._missed_rooms[room] = cursor if known is None else min(known, cursor)

    def _enqueue(self, room: str, cursor: str, payload: dict[str, Any]) -> None:
        self._outbox.append((room, cursor, _dumps(payload)))
        self._outbox_empty.clear()
        self._outbox_ready.set()

    async def _subscribe_channel(self, room: str) -> asyncio.Future[bool] | None:
        """SUBSCRIBE on the live link; the future resolves when Redis confirms (None while down)."""
        if self._conn is None:
            return None  # the reconnect subscribes every local room, then resyncs
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(room, deque()).append(fut)
        self._ready[room] = fut
        await self._send("SUBSCRIBE", channel_for(room))
        return fut

    async def _send(self, *args: str) -> None:
        """Send a pub/sub command on the live link; a failure breaks the link instead of raising."""
        conn = self._conn
        if conn is None or not conn.is_connected:
            return
        try:
            await conn.send_command(*args, check_health=False)
        except _LINK_ERRORS as exc:
            self._lose(f"{args[0]} failed: {exc}")

    def _lose(self, why: str) -> None:
        if self._healthy:
            log.warning("Redis hub: link lost (%s)", why)
            self.fanout.offer_all(GAP)
        self._healthy = False
        self._broken.set()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_min * 2 ** max(attempt - 1, 0))
        return delay * random.uniform(0.7, 1.3)

    async def _supervise(self) -> None:
        """Connect, serve until the link breaks, back off, repeat; always leaves nothing open."""
        attempt = 0
        try:
            while True:
                # Two plain connections, used without redis-py's retries: every reconnect must go
                # through this loop, which resyncs. The pool only parses the URL and builds them.
                pool = aioredis.ConnectionPool.from_url(
                    self.url,
                    socket_connect_timeout=self.connect_timeout,
                    socket_timeout=self.connect_timeout * 2,
                    retry=Retry(NoBackoff(), 0),
                    client_name=f"quart-chat:{self.instance_id}",
                )
                pub, sub = pool.make_connection(), pool.make_connection()
                try:
                    await self._connect(pub, sub)
                except _LINK_ERRORS as exc:
                    attempt += 1
                    level = logging.WARNING if attempt == 1 and self._tried.is_set() else logging.DEBUG
                    log.log(level, "Redis hub: cannot connect to %s (%s)", redact(self.url), exc)
                else:
                    if attempt or self.reconnects:
                        log.info("Redis hub: connected to %s", redact(self.url))
                    attempt = 0
                    await self._serve(pub, sub)
                    attempt = 1
                finally:
                    self._tried.set()
                    await self._close(pool, pub, sub)
                await asyncio.sleep(self._backoff(attempt))
        finally:
            self._healthy = False
            self._conn = None

    async def _connect(self, pub: AbstractConnection, conn: AbstractConnection) -> None:
        """Open both connections, subscribe every local room and wait for Redis to confirm them all."""
        await pub.send_command("PING", check_health=False)
        await pub.read_response()
        await conn.connect()
        subscribed: set[str] = set()
        while True:
            missing = set(self.fanout.rooms()) - subscribed
            if not missing:
                break  # no await between this check and going live: no room can slip through
            await conn.send_command("SUBSCRIBE", *map(channel_for, missing), check_health=False)
            pending = set(missing)
            async with asyncio.timeout(self.connect_timeout * 2):
                while pending:
                    reply = await conn.read_response()
                    if reply[0] == b"subscribe":
                        pending.discard(_room_of(reply[1]))
                    else:
                        self._on_reply(reply)
            subscribed |= missing
        self._conn = conn
        self._broken = asyncio.Event()
        self._healthy = True
        self.reconnects += self._tried.is_set()
        self._tried.set()
        for room in subscribed - set(self.fanout.rooms()):
            await self._send("UNSUBSCRIBE", channel_for(room))  # left while we were connecting
        # Everything local may have missed rows: re-read the store. Tell the others what we missed.
        self.fanout.resync_all()
        missed, self._missed_rooms = self._missed_rooms, {}
        for room, since in sorted(missed.items()):
            self._enqueue(room, since, {"i": self.instance_id, "room": room, "resync": 1, "since": since})

    async def _serve(self, pub: AbstractConnection, conn: AbstractConnection) -> None:
        """Run the reader and the publisher until either breaks the link."""
        broken = self._broken
        tasks = [
            asyncio.create_task(self._guard(self._read(conn), broken)),
            asyncio.create_task(self._guard(self._write(pub), broken)),
        ]
        try:
            await broken.wait()
        finally:
            self._healthy = False
            self._conn = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Wake everyone waiting for a confirmation; the reconnect resyncs their sockets.
            for futs in self._confirm.values():
                for fut in futs:
                    if not fut.done():
                        fut.set_result(False)
            self._confirm.clear()
            self._ready.clear()
            # Rows still queued for Redis never left: their rooms are announced after the reconnect.
            for room, cursor, _ in self._outbox:
                self._miss(room, cursor)
            self._outbox.clear()
            self._outbox_empty.set()

    async def _guard(self, work: Coroutine[Any, Any, None], broken: asyncio.Event) -> None:
        try:
            await work
        except _LINK_ERRORS as exc:
            self._lose(str(exc) or type(exc).__name__)
        except Exception:
            log.exception("Redis hub: unexpected error; reconnecting")
            self._lose("unexpected error")
        broken.set()

    async def _read(self, conn: AbstractConnection) -> None:
        """Deliver pub/sub messages; PING when idle and give up on a link that stays silent."""
        loop = asyncio.get_running_loop()
        last_heard = loop.time()
        count = 0
        while True:
            reply = await conn.read_response(timeout=self.ping_interval)
            now = loop.time()
            if reply is None:
                if now - last_heard > self.ping_interval * 2.5:
                    raise ConnectionError("Redis did not answer PING")
                await conn.send_command("PING", check_health=False)
                continue
            last_heard = now
            self._on_reply(reply)
            count += 1
            if count % 64 == 0:
                # Buffered replies are parsed without yielding: let the sockets' writers drain
                # their queues during a burst, rather than closing them as slow consumers.
                await asyncio.sleep(0)

    async def _write(self, conn: AbstractConnection) -> None:
        """Send the outbox in order over one connection, pipelining whatever has piled up."""
        while True:
            while not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
            # Left in the outbox until sent: if the link breaks, _serve counts their rooms as missed.
            batch = list(islice(self._outbox, 500))
            commands = [("PUBLISH", channel_for(room), payload) for room, _, payload in batch]
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            for _ in batch:
                await conn.read_response()
            for _ in batch:
                self._outbox.popleft()
            if not self._outbox:
                self._outbox_empty.set()

    def _on_reply(self, reply: list[Any]) -> None:
        kind = reply[0]
        if kind == b"message":
            self._on_message(_room_of(reply[1]), reply[2])
        elif kind == b"subscribe":
            futs = self._confirm.get(_room_of(reply[1]))
            if futs:
                fut = futs.popleft()
                if not futs:
                    del self._confirm[_room_of(reply[1])]
                if not fut.done():
                    fut.set_result(True)

    def _on_message(self, room: str, data: bytes) -> None:
        try:
            msg = json.loads(data)
            if msg["room"] != room:
                raise ValueError("room does not match the channel")
            if msg["i"] == self.instance_id:
                return  # our own row: already delivered locally
            if msg.get("resync"):
                since = msg.get("since")
                if since is not None and not isinstance(since, str):
                    raise TypeError("since must be a string")
                for sub in self.fanout.subscriptions():
                    if sub.room == room:
                        sub.offer(Resync(since))
                return
            broadcast = Broadcast(room, msg["id"], msg["cursor"], msg["html"])
            if not all(isinstance(v, str) for v in (broadcast.message_id, broadcast.cursor, broadcast.html)):
                raise TypeError("id, cursor and html must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            self.dropped_malformed += 1
            log.warning("Redis hub: dropped a malformed message on room %r (%s): %.80r", room, exc, data)
            return
        self.fanout.deliver(broadcast)

    async def _close(self, pool: aioredis.ConnectionPool, *conns: AbstractConnection) -> None:
        for conn in conns:
            with suppress(*_LINK_ERRORS):
                await conn.disconnect(nowait=True)
        with suppress(*_LINK_ERRORS):
            await pool.disconnect()


def _room_of(channel: bytes) -> str:
    return channel.decode()[len(CHANNEL_PREFIX) :]


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
