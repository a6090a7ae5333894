"""Prometheus metrics for operators: connections, message flow, slow consumers, drops, latencies.

One registry per app (so tests can build several apps in one process). With
several worker processes each has its own numbers; scrape each process or
run one worker per container (the Docker image does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from quart_chat.models import Message
from quart_chat.store import MessageStore

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections_open = Gauge("chat_connections_open", "Open room WebSockets.", registry=r)
        self.connections_refused = Counter(
            "chat_connections_refused_total", "WebSockets refused, by reason.", ["reason"], registry=r
        )
        self.messages_received = Counter(
            "chat_messages_received_total", "Non-empty message frames received.", registry=r
        )
        self.messages_refused = Counter(
            "chat_messages_refused_total", "Frames refused, by reason.", ["reason"], registry=r
        )
        self.messages_stored = Counter("chat_messages_stored_total", "Messages stored.", registry=r)
        self.messages_delivered = Counter(
            "chat_messages_delivered_total", "Message rows written to sockets.", registry=r
        )
        self.slow_consumers_closed = Counter(
            "chat_slow_consumers_closed_total", "Sockets closed with 1013 for falling behind.", registry=r
        )
        self.connections_dropped = Counter(
            "chat_connections_dropped_total",
            "Connections aborted for not taking data (send_timeout) or not answering pings (pong_timeout).",
            ["reason"], registry=r,
        )
        self.store_latency = Histogram(
            "chat_store_latency_seconds", "Message store call latency.", ["operation"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.send_to_deliver = Histogram(
            "chat_send_to_deliver_seconds", "From stored to written on a recipient's socket.",
            buckets=LATENCY_BUCKETS, registry=r,
        )

    def track_connections(self, count: Callable[[], float]) -> None:
        self.connections_open.set_function(count)


class TimedStore:
    """A MessageStore that records each call's latency; otherwise it is the store it wraps."""

    def __init__(self, inner: MessageStore, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def _timed(self, operation: str, call):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return await call
        finally:
            self.metrics.store_latency.labels(operation).observe(time.perf_counter() - start)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def add(
        self,
        room: str,
        author_uid: str,
        author_name: str,
        text: str,
        *,
        message_id: str | None = None,
        mentions: Sequence[tuple[str, str]] = (),
    ) -> Message:
        message = await self._timed(
            "add", self.inner.add(room, author_uid, author_name, text, message_id=message_id, mentions=mentions)
        )
        if not message.replayed:  # a re-sent frame is not stored again
            self.metrics.messages_stored.inc()
        return message

    def valid_cursor(self, cursor: str) -> bool:
        return self.inner.valid_cursor(cursor)

    async def latest(self, room: str, limit: int) -> list[Message]:
        return await self._timed("latest", self.inner.latest(room, limit))

    async def before(self, room: str, cursor: str, limit: int) -> list[Message]:
        return await self._timed("before", self.inner.before(room, cursor, limit))

    async def after(self, room: str, cursor: str, limit: int) -> list[Message]:
        return await self._timed("after", self.inner.after(room, cursor, limit))

    async def ping(self) -> None:
        await self._timed("ping", self.inner.ping())
