"""The room's WebSocket: authenticate, catch up, then relay live rows both ways.

Per connection there is one reader task (frames in: validate, rate-limit,
store, broadcast) and one writer task (the only one that sends: catch-up,
hub rows, sender-only fragments, heartbeats). On every (re)connect the hub
subscription is taken *before* history is read, and rows are remembered by
id, so the boundary between history and live rows has no gap and no
duplicate; the browser upserts rows by id as a second guard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from quart import Blueprint, session, url_for, websocket

from quart_chat.auth import AuthUnavailable
from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import Gap, Resync, Subscription
from quart_chat.messaging import send_message
from quart_chat.models import Identity, parse_cursor
from quart_chat.ratelimit import TokenBucket
from quart_chat.rendering import (
    ZERO_CURSOR,
    composer_error_partial,
    composer_partial,
    render_row,
    reset_partials,
    rows_partial,
    status_partial,
)
from quart_chat.services import Services
from quart_chat.store import StoreError
from quart_chat.validation import FrameError, is_room_name, parse_frame
from quart_chat.web.context import app_services
from quart_chat.web.security import TOKEN_KEY, current_identity, origin_allowed

bp = Blueprint("live", __name__)
log = logging.getLogger(__name__)

BATCH_LIMIT = 64  # rows joined into one frame under load
REMEMBERED_IDS = 2048
RESYNC_LOOKBACK = 64


async def _refuse(reason: str, fragment: str = "") -> None:
    await websocket.accept()
    if fragment:
        await websocket.send(fragment)
    await websocket.close(Close.POLICY_VIOLATION, reason)


@bp.websocket("/rooms/<room>/ws")
async def room_socket(room: str) -> None:
    services: Services = app_services()
    settings = services.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        log.warning("refused websocket: origin %r", websocket.headers.get("Origin"))
        services.metrics.connections_refused.labels("origin").inc()
        await _refuse("origin not allowed")
        return
    if not is_room_name(room):
        services.metrics.connections_refused.labels("room").inc()
        await _refuse("no such room")
        return
    try:
        me = await current_identity(check_revoked=True)
    except AuthUnavailable:
        # Firebase cannot be asked about revocation: "cannot tell" is not "signed out". A cookie
        # that verifies on its own gets in; the interval check asks again once Firebase answers.
        log.warning("revocation check unavailable at connect; checking the cookie only (room=%s)", room)
        try:
            me = await current_identity()
        except AuthUnavailable:
            await websocket.accept()
            await websocket.send(await status_partial("reconnecting"))
            await websocket.close(Close.TRY_AGAIN_LATER, "sign-in unavailable")
            return
    if me is None:
        log.info("refused websocket: not signed in (room=%s)", room)
        services.metrics.connections_refused.labels("auth").inc()
        login = url_for("auth.login_form", next=f"/rooms/{room}")
        await _refuse("not signed in", await status_partial("closed", "You are signed out.", login))
        return
    after = websocket.args.get("after", ZERO_CURSOR)
    try:
        parse_cursor(after)
    except ValueError:
        after = ZERO_CURSOR
    await websocket.accept()
    await LiveConnection(services, room, me, session.get(TOKEN_KEY, ""), after).run()


class LiveConnection:
    """One browser tab in one room."""

    def __init__(self, services: Services, room: str, me: Identity, token: str, after: str) -> None:
        self.services = services
        self.settings = services.settings
        self.room = room
        self.me = me
        self.token = token
        self.after = after
        self.subscription: Subscription | None = None
        self._sent: OrderedDict[str, str] = OrderedDict()  # message id -> cursor, newest last
        self._gap_from: str | None = None  # where the hub's outage began, for the next resync
        self._last_status = 0.0
        self._live_status = ""
        self._last_revocation_check = time.monotonic()

    async def run(self) -> None:
        log.info("connect uid=%s room=%s", self.me.uid, self.room)
        async with self.services.hub.subscribe(self.room) as sub:
            self.subscription = sub
            self.services.connections.add(self)
            writer = asyncio.create_task(self._write(sub))
            reader = asyncio.create_task(self._read(sub))
            try:
                done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("websocket task failed", exc_info=task.exception())
            finally:
                # Synchronous clean-up first: Quart cancels this task when the client's close
                # arrives, and a second cancellation may land on the await below.
                self.services.connections.discard(self)
                log.info("disconnect uid=%s room=%s", self.me.uid, self.room)
                for task in (writer, reader):
                    task.cancel()
                await asyncio.gather(writer, reader, return_exceptions=True)

    # -- writer: the only task that sends ------------------------------------------------

    def _remember(self, message_id: str, cursor: str) -> bool:
        """Record a row as sent; False if it was sent already."""
        if message_id in self._sent:
            return False
        self._sent[message_id] = cursor
        if len(self._sent) > REMEMBERED_IDS:
            self._sent.popitem(last=False)
        return True

    async def _catch_up_frame(self, cursor: str) -> str:
        """Rows after ``cursor`` not yet sent; a reset of the list if there are too many."""
        store, limit = self.services.store, self.settings.catchup_limit
        missed = await store.after(self.room, cursor, limit + 1)
        if len(missed) <= limit:
            rows = [await render_row(m) for m in missed if self._remember(m.id, m.cursor)]
            return rows_partial(rows) if rows else ""
        page = self.settings.history_page_size
        latest = await store.latest(self.room, page + 1)
        has_older, latest = len(latest) > page, latest[-page:]
        self._sent.clear()
        for m in latest:
            self._remember(m.id, m.cursor)
        return await reset_partials(self.room, latest, has_older)

    def _resync_cursor(self, *earlier: str | None) -> str:
        """Re-read from a little before the latest rows, or from an outage's start if that is earlier."""
        recent = list(self._sent.values())[-RESYNC_LOOKBACK:]
        start = min([c for c in earlier if c] + recent, default=self.after)
        return max(start, self.after)  # the page holds everything up to its own cursor

    def _status_if_due(self, force: bool = False) -> str:
        now = time.monotonic()
        if force or now - self._last_status >= self.settings.heartbeat_interval:
            self._last_status = now
            return self._live_status
        return ""

    async def _write(self, sub: Subscription) -> None:
        self._live_status = await status_partial("live")  # the same bytes at every heartbeat: render once
        try:
            frame = await self._catch_up_frame(self.after)
        except StoreError:
            log.exception("catch-up failed room=%s", self.room)
            await websocket.close(Close.INTERNAL_ERROR, "history unavailable")
            return
        await websocket.send(frame + self._status_if_due(force=True))
        heartbeat = self.settings.heartbeat_interval
        metrics = self.services.metrics
        while True:
            ready = await sub.wait(timeout=heartbeat)
            if sub.close_request is not None:
                await self._close(sub.close_request.code, sub.close_request.reason)
                return
            # Checked on every wake-up, busy or idle (a cheap clock comparison until it is due):
            # a revoked user in a busy room must not stay connected just because rows keep coming.
            if not await self._still_signed_in():
                return
            if not ready:
                await websocket.send(self._status_if_due(force=True))
                continue
            rows: list[str] = []
            direct: list[str] = []
            resync = False
            stored_at: list[float] = []
            since: list[str | None] = []
            for item in sub.drain(BATCH_LIMIT):
                if isinstance(item, Broadcast):
                    if self._remember(item.message_id, item.cursor):
                        rows.append(item.html)
                        stored_at.append(item.stored_at)
                elif isinstance(item, Gap):
                    self._gap_from = self._gap_from or self._resync_cursor()
                elif isinstance(item, Resync):
                    resync = True
                    since.append(item.since)
                else:
                    direct.append(item)
            parts = [rows_partial(rows)] if rows else []
            if resync:
                try:
                    cursor = self._resync_cursor(self._gap_from, *since)
                    self._gap_from = None
                    parts.append(await self._catch_up_frame(cursor))
                except StoreError:
                    log.exception("resync failed room=%s", self.room)
                    await self._close(Close.INTERNAL_ERROR, "history unavailable")
                    return
            parts.extend(direct)
            parts.append(self._status_if_due())
            frame = "".join(parts)
            if frame:
                await websocket.send(frame)
                metrics.messages_delivered.inc(len(rows))
                written = time.time()
                for when in stored_at:
                    if when:
                        metrics.send_to_deliver.observe(max(0.0, written - when))

    async def _still_signed_in(self) -> bool:
        """Re-check the session (revocation) at a bounded interval; close 1008 if it ended."""
        now = time.monotonic()
        if now - self._last_revocation_check < self.settings.revocation_check_interval:
            return True
        self._last_revocation_check = now
        try:
            identity = await self.services.identity.verify(self.token, check_revoked=True)
        except AuthUnavailable:
            # Cannot tell (Firebase unreachable): keep the socket, ask again next interval.
            log.warning("revocation check unavailable; keeping the socket uid=%s room=%s", self.me.uid, self.room)
            return True
        if identity is not None:
            return True
        log.info("session ended; closing uid=%s room=%s", self.me.uid, self.room)
        login = url_for("auth.login_form", next=f"/rooms/{self.room}")
        await websocket.send(await status_partial("closed", "You are signed out.", login))
        await websocket.close(Close.POLICY_VIOLATION, "signed out")
        return False

    async def _close(self, code: int, reason: str) -> None:
        if code == Close.POLICY_VIOLATION:
            login = url_for("auth.login_form", next=f"/rooms/{self.room}")
            fragment = await status_partial("closed", "You are signed out.", login)
        else:
            fragment = await status_partial("reconnecting")
        if code == Close.TRY_AGAIN_LATER:
            self.services.metrics.slow_consumers_closed.inc()
            log.warning("slow consumer closed uid=%s room=%s", self.me.uid, self.room)
        elif code == Close.SERVICE_RESTART:
            log.info("closing for restart uid=%s room=%s", self.me.uid, self.room)
        await websocket.send(fragment)
        await websocket.close(code, reason)

    # -- reader: frames from the browser -------------------------------------------------

    async def _read(self, sub: Subscription) -> None:
        settings = self.settings
        bucket = TokenBucket(settings.rate_limit_per_minute, settings.rate_limit_burst)
        composer = await composer_partial(self.room, settings.max_message_chars)
        metrics = self.services.metrics
        while True:
            raw = await websocket.receive()
            size = len(raw.encode() if isinstance(raw, str) else raw)
            try:
                if size > settings.max_frame_bytes:
                    raise FrameError(f"Message too long: the limit is {settings.max_message_chars} characters.")
                frame = parse_frame(raw, settings.max_message_chars)
            except FrameError as exc:
                metrics.messages_refused.labels("invalid").inc()
                sub.offer(await composer_error_partial(exc.message))
                continue
            if not frame.text:
                continue
            metrics.messages_received.inc()
            if not bucket.take():
                metrics.messages_refused.labels("rate_limited").inc()
                wait = max(1, round(bucket.retry_after()))
                sub.offer(await composer_error_partial(f"You are sending too fast. Try again in {wait} s."))
                continue
            try:
                await send_message(self.services, self.room, self.me, frame.text)
            except StoreError:
                metrics.messages_refused.labels("store_failed").inc()
                log.exception("store failed; message refused uid=%s room=%s", self.me.uid, self.room)
                sub.offer(await composer_error_partial("Not sent: the message could not be saved. Try again."))
                continue
            sub.offer(composer)

    def close_for(self, code: int, reason: str) -> None:
        if self.subscription is not None:
            self.subscription.request_close(code, reason)
