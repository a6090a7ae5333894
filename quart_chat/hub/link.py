"""One session with Redis: a connection to PUBLISH on, one to SUBSCRIBE on, and the reader.

The connections are used without redis-py's retries, so that every reconnect goes through
the hub's one supervisor loop, which resyncs. A dead link is noticed by its socket (a
killed server closes it at once) or, if it goes silent, by an unanswered PING on the idle
pub/sub connection: PING every :data:`PING_INTERVAL` of silence, give up after
:data:`SILENT_LINK_FACTOR` intervals without a word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

CONNECT_TIMEOUT = 1.0  # seconds to open a connection
REPLY_TIMEOUT_FACTOR = 2  # a reply (or a batch of SUBSCRIBE confirmations) may take this many connect timeouts
PING_INTERVAL = 0.5  # seconds of silence on the pub/sub connection before it is PINGed
SILENT_LINK_FACTOR = 2.5  # the link is dead after this many ping intervals without a word
REPLIES_PER_YIELD = 64  # replies parsed in a row before the reader lets the sockets' writers run

LINK_ERRORS = (RedisError, OSError)

OnReply = Callable[[list[Any]], None]


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Link:
    """Two plain connections for one attempt; the pool only parses the URL and builds them."""

    def __init__(self, url: str, client_name: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.connect_timeout = connect_timeout
        self._pool = aioredis.ConnectionPool.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=connect_timeout * REPLY_TIMEOUT_FACTOR,
            retry=Retry(NoBackoff(), 0),
            client_name=client_name,
        )
        self.pub: AbstractConnection = self._pool.make_connection()
        self.sub: AbstractConnection = self._pool.make_connection()

    async def open(self, channels: Callable[[], Iterable[str]], on_reply: OnReply) -> set[str]:
        """Connect both, SUBSCRIBE every channel in ``channels()`` and wait until Redis confirms them all.

        ``channels()`` is asked again after each round, so a room (or person) that gets its first
        socket meanwhile is subscribed too. It returns right after the last check, with no await in
        between, so the caller can go live before any other channel can slip through. Other replies
        go to ``on_reply``.
        """
        await self.pub.send_command("PING", check_health=False)
        await self.pub.read_response()
        await self.sub.connect()
        subscribed: set[str] = set()
        while True:
            missing = set(channels()) - subscribed
            if not missing:
                return subscribed
            await self.sub.send_command("SUBSCRIBE", *missing, check_health=False)
            pending = set(missing)
            async with asyncio.timeout(self.connect_timeout * REPLY_TIMEOUT_FACTOR):
                while pending:
                    reply = await self.sub.read_response()
                    if reply[0] == b"subscribe":
                        pending.discard(reply[1].decode())
                    else:
                        on_reply(reply)
            subscribed |= missing

    async def close(self) -> None:
        for conn in (self.pub, self.sub):
            with suppress(*LINK_ERRORS):
                await conn.disconnect(nowait=True)
        with suppress(*LINK_ERRORS):
            await self._pool.disconnect()


async def read_forever(conn: AbstractConnection, on_reply: OnReply, ping_interval: float = PING_INTERVAL) -> None:
    """Hand every pub/sub reply to ``on_reply``; PING when idle and give up on a link that stays silent."""
    loop = asyncio.get_running_loop()
    last_heard = loop.time()
    count = 0
    while True:
        reply = await conn.read_response(timeout=ping_interval)
        now = loop.time()
        if reply is None:
            if now - last_heard > ping_interval * SILENT_LINK_FACTOR:
                raise ConnectionError("Redis did not answer PING")
            await conn.send_command("PING", check_health=False)
            continue
        last_heard = now
        on_reply(reply)
        count += 1
        if count % REPLIES_PER_YIELD == 0:
            # Buffered replies are parsed without yielding: let the sockets' writers drain
            # their queues during a burst, rather than closing them as slow consumers.
            await asyncio.sleep(0)
