"""The Redis hub: fan-out across processes and instances through Redis pub/sub.

It is a composition of small parts, each with its own trade-off notes: :mod:`.wire` (the
payloads), :mod:`.outbox` (local first, then an ordered, pipelined, bounded queue to Redis),
:mod:`.confirmations` (a new socket waits until its room's SUBSCRIBE is in force),
:mod:`.link` (two plain connections, PING on silence), :mod:`.backoff` (when to retry) and
:mod:`.missed` (rooms the others did not hear from us). What this module decides:

- One pub/sub connection per instance and one channel per room that has local
  sockets: SUBSCRIBE on a room's first socket, UNSUBSCRIBE after its last. Redis
  then sends each instance only the rooms it serves, once, however many sockets
  it has there; the per-socket fan-out stays in :class:`LocalFanout` (bounded
  queues, 1013 for slow consumers). A person's channel is followed the same way,
  from their first socket here to their last, and carries their notices.
- Pub/sub is fire-and-forget: what is published while a link is down is lost,
  and a reader that falls behind is cut off by Redis's output-buffer limit. The
  hub does not replay; it repairs. When a link breaks every local socket gets a
  GAP marker (where its re-read must start); after every (re)connect the hub
  re-subscribes, sends RESYNC to every local socket (which re-reads the store
  from there), and tells other instances which rooms it could not publish to,
  from which cursor, so they resync those rooms from there too. The store is the
  truth; the hub only makes it arrive sooner. While a link is down ``healthy`` is False.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Collection, Coroutine
from contextlib import asynccontextmanager, suppress
from itertools import batched
from typing import Any

from redis.asyncio.connection import AbstractConnection

from quart_chat.hub import Broadcast, SignalHandler
from quart_chat.hub.backoff import BACKOFF_MAX, BACKOFF_MIN, Backoff
from quart_chat.hub.confirmations import Confirmations, settled
from quart_chat.hub.fanout import GAP, LocalFanout, Notice, Subscription
from quart_chat.hub.link import CONNECT_TIMEOUT, LINK_ERRORS, PING_INTERVAL, Link, read_forever, redact
from quart_chat.hub.missed import MissedRooms
from quart_chat.hub.outbox import OUTBOX_MAX, Outbox, publish_forever
from quart_chat.hub.wire import (
    NOTICE_CHUNK,
    NOTICES_CHANNEL,
    Malformed,
    Signal,
    channel_for,
    decode,
    decode_notice,
    decode_notices,
    encode_notice,
    encode_notices,
    encode_resync,
    encode_row,
    encode_signal,
    person_channel,
    person_of,
    room_of,
)

__all__ = ["RedisHub", "redact"]

log = logging.getLogger(__name__)

NOTICES_BYTES = NOTICES_CHANNEL.encode()
START_WAIT_FACTOR = 3  # start() waits this many connect timeouts for the first attempt, then goes on


class RedisHub:
    """Hub over Redis pub/sub; see the module docstring for the trade-offs."""

    def __init__(
        self,
        url: str,
        queue_size: int = 256,
        instance_id: str | None = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        ping_interval: float = PING_INTERVAL,
        max_outbox: int = OUTBOX_MAX,
        backoff_min: float = BACKOFF_MIN,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.url = url
        self.fanout = LocalFanout(queue_size)
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.outbox = Outbox(max_outbox)
        self.backoff = Backoff(backoff_min, backoff_max)
        self.missed = MissedRooms()
        self.confirmations = Confirmations()
        self.reconnects = 0
        self.dropped_malformed = 0
        self.dropped_signals = 0  # signals and notices not sent while the link was down
        self._handlers: list[SignalHandler] = []
        self._healthy = False
        self._task: asyncio.Task[None] | None = None
        self._conn: AbstractConnection | None = None  # the pub/sub connection while healthy
        self._broken = asyncio.Event()  # set when the current link fails
        self._tried = asyncio.Event()  # set after the first connection attempt

    # -- the Hub protocol -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background; wait for the first attempt only, so a down Redis never stops the app."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._supervise(), name=f"redis-hub {self.instance_id}")
        with suppress(TimeoutError):
            async with asyncio.timeout(self.connect_timeout * START_WAIT_FACTOR):
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
                if self.outbox and self._healthy:
                    await self.outbox.wait_empty()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    async def publish(self, broadcast: Broadcast) -> None:
        """Deliver locally now, queue for the other instances; never raises for Redis, never blocks."""
        self.fanout.deliver(broadcast)
        if not self._healthy:
            self.missed.add(broadcast.room, broadcast.cursor)
            return
        if self.outbox.full:
            # Redis cannot keep up: treat it as an outage, which ends in a resync everywhere.
            self.missed.add(broadcast.room, broadcast.cursor)
            self._lose("outbox full")
            return
        self.outbox.put(broadcast.room, broadcast.cursor, encode_row(self.instance_id, broadcast))

    async def signal(self, room: str, data: dict[str, str]) -> None:
        """Handle here at once, then queue for the others, in order with the rows; dropped while down.

        A signal is not a row: nothing is missed or resynced for it. Presence heals on its refresh
        timer and typing expires by itself, so a lost one costs a few seconds of staleness.
        """
        self._handle(room, data)
        if not self._healthy or self.outbox.full:
            self.dropped_signals += 1
            return
        self.outbox.put(room, "", encode_signal(self.instance_id, room, data))

    def on_signal(self, handler: SignalHandler) -> None:
        self._handlers.append(handler)

    def offer_room(self, room: str, html: str) -> None:
        self.fanout.offer_room(room, html)

    async def notify(self, person: str, data: dict[str, str]) -> None:
        """Offer here at once, then queue for the others on the person's channel; dropped while down."""
        self.fanout.offer_person(Notice(person, dict(data)))
        if not self._healthy or self.outbox.full:
            self.dropped_signals += 1
            return
        self.outbox.put("", "", encode_notice(self.instance_id, person, data), person_channel(person))

    async def notify_many(self, persons: Collection[str], data: dict[str, str]) -> None:
        """Offer here at once, then queue one frame per NOTICE_CHUNK people on the shared notice channel."""
        data = dict(data)
        self.fanout.offer_people(persons, data)
        if not persons:
            return
        if not self._healthy or self.outbox.full:
            self.dropped_signals += 1
            return
        for chunk in batched(persons, NOTICE_CHUNK, strict=False):
            self.outbox.put("", "", encode_notices(self.instance_id, list(chunk), data), NOTICES_CHANNEL)

    def _handle(self, room: str, data: dict[str, str]) -> None:
        for handler in tuple(self._handlers):
            try:
                handler(room, dict(data))
            except Exception:
                log.exception("Redis hub: a signal handler failed (room %r)", room)

    @asynccontextmanager
    async def subscribe(self, room: str, person: str | None = None) -> AsyncIterator[Subscription]:
        sub, first = self.fanout.add(room)
        channels = [(channel_for(room), first)]
        if person is not None:
            channels.append((person_channel(person), self.fanout.follow(sub, person)))
        if not self._healthy:
            sub.offer(GAP)  # what other instances publish now is missed until the link is back
        try:
            for channel, first_here in channels:
                ready = self.confirmations.latest(channel)
                if first_here:
                    ready = await self._subscribe_channel(channel)
                if ready is not None and not ready.done() and not await settled(ready, self.connect_timeout):
                    # Rows published meanwhile may be missed; a slow link is about to be declared dead
                    # by the PING check, and the reconnect resyncs this socket.
                    log.warning("Redis hub: SUBSCRIBE %r not confirmed in time", channel)
            yield sub
        finally:
            last_of_person = self.fanout.unfollow(sub)
            if self.fanout.remove(sub):
                await self._unsubscribe(channel_for(room))
            if last_of_person and person is not None:
                await self._unsubscribe(person_channel(person))

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- the link ---------------------------------------------------------------------------------

    def _channels(self) -> list[str]:
        """Every channel this instance must hear: the shared notices, its rooms' and the people it has sockets of."""
        return [NOTICES_CHANNEL, *map(channel_for, self.fanout.rooms()), *map(person_channel, self.fanout.people())]

    async def _subscribe_channel(self, channel: str) -> asyncio.Future[bool] | None:
        """SUBSCRIBE on the live link; the future resolves when Redis confirms (None while down)."""
        if self._conn is None:
            return None  # the reconnect subscribes every local channel, then resyncs
        fut = self.confirmations.expect(channel)
        await self._send("SUBSCRIBE", channel)
        return fut

    async def _unsubscribe(self, channel: str) -> None:
        """The channel's last local subscription has gone."""
        self.confirmations.forget(channel)
        await self._send("UNSUBSCRIBE", channel)

    async def _send(self, *args: str) -> None:
        """Send a pub/sub command on the live link; a failure breaks the link instead of raising."""
        conn = self._conn
        if conn is None or not conn.is_connected:
            return
        try:
            await conn.send_command(*args, check_health=False)
        except LINK_ERRORS as exc:
            self._lose(f"{args[0]} failed: {exc}")

    def _lose(self, why: str) -> None:
        if self._healthy:
            log.warning("Redis hub: link lost (%s)", why)
            self.fanout.offer_all(GAP)
        self._healthy = False
        self._broken.set()

    async def _supervise(self) -> None:
        """Connect, serve until the link breaks, back off, repeat; always leaves nothing open."""
        try:
            while True:
                link = Link(self.url, f"quart-chat:{self.instance_id}", self.connect_timeout)
                try:
                    await self._go_live(link)
                except LINK_ERRORS as exc:
                    self.backoff.failed()
                    log.debug("Redis hub: cannot connect to %s (%s)", redact(self.url), exc)
                else:
                    if self.backoff.attempt or self.reconnects:
                        log.info("Redis hub: connected to %s", redact(self.url))
                    self.backoff.succeeded()
                    await self._serve(link)
                    self.backoff.failed()  # the link broke: retry after the shortest wait
                finally:
                    self._tried.set()
                    await link.close()
                await asyncio.sleep(self.backoff.delay())
        finally:
            self._healthy = False
            self._conn = None

    async def _go_live(self, link: Link) -> None:
        """Open the link with every local room subscribed, then resync everyone and announce what we missed."""
        subscribed = await link.open(self._channels, self._on_reply)
        # No await since link.open's last look at the rooms: none can slip through before we are live.
        self._conn = link.sub
        self._broken = asyncio.Event()
        self._healthy = True
        self.reconnects += self._tried.is_set()
        self._tried.set()
        for channel in subscribed - set(self._channels()):
            await self._send("UNSUBSCRIBE", channel)  # left while we were connecting
        # Everything local may have missed rows: re-read the store. Tell the others what we missed.
        self.fanout.resync_all()
        for room, since in self.missed.take():
            self.outbox.put(room, since, encode_resync(self.instance_id, room, since))

    async def _serve(self, link: Link) -> None:
        """Run the reader and the publisher until either breaks the link."""
        broken = self._broken
        tasks = [
            asyncio.create_task(self._guard(read_forever(link.sub, self._on_reply, self.ping_interval), broken)),
            asyncio.create_task(self._guard(publish_forever(self.outbox, link.pub), broken)),
        ]
        try:
            await broken.wait()
        finally:
            self._healthy = False
            self._conn = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.confirmations.fail_all()  # the reconnect resyncs the sockets that were waiting
            # Rows still queued for Redis never left: their rooms are announced after the reconnect.
            for room, cursor in self.outbox.unsent():
                self.missed.add(room, cursor)

    async def _guard(self, work: Coroutine[Any, Any, None], broken: asyncio.Event) -> None:
        try:
            await work
        except LINK_ERRORS as exc:
            self._lose(str(exc) or type(exc).__name__)
        except Exception:
            log.exception("Redis hub: unexpected error; reconnecting")
            self._lose("unexpected error")
        broken.set()

    def _on_reply(self, reply: list[Any]) -> None:
        kind = reply[0]
        if kind == b"message":
            if reply[1] == NOTICES_BYTES:
                self._on_notices(reply[2])
                return
            person = person_of(reply[1])
            if person is None:
                self._on_message(room_of(reply[1]), reply[2])
            else:
                self._on_notice(person, reply[2])
        elif kind == b"subscribe":
            self.confirmations.confirmed(reply[1].decode())

    def _on_notice(self, person: str, data: bytes) -> None:
        try:
            notice = decode_notice(person, data, self.instance_id)
        except Malformed as exc:
            self.dropped_malformed += 1
            log.warning("Redis hub: dropped a malformed notice for %r (%s): %.80r", person, exc, data)
            return
        if notice is not None:  # None: our own, delivered locally already
            self.fanout.offer_person(notice)

    def _on_notices(self, data: bytes) -> None:
        try:
            found = decode_notices(data, self.instance_id)
        except Malformed as exc:
            self.dropped_malformed += 1
            log.warning("Redis hub: dropped a malformed notice frame (%s): %.80r", exc, data)
            return
        if found is not None:  # None: our own, delivered locally already
            self.fanout.offer_people(*found)

    def _on_message(self, room: str, data: bytes) -> None:
        try:
            item = decode(room, data, self.instance_id)
        except Malformed as exc:
            self.dropped_malformed += 1
            log.warning("Redis hub: dropped a malformed message on room %r (%s): %.80r", room, exc, data)
            return
        if item is None:
            return  # our own row: already delivered locally
        if isinstance(item, Broadcast):
            self.fanout.deliver(item)
        elif isinstance(item, Signal):
            self._handle(item.room, item.data)
        else:
            self.fanout.offer_room(room, item)
