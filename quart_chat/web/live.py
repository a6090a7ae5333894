"""The room's WebSocket, the shell: authenticate, then move frames between the browser and the core.

What to send and when to close is decided by :class:`~quart_chat.live_protocol.LiveProtocol`
(no I/O); this module only reads and writes frames, awaits the store and the identity
provider, and feeds what happened to the core. Per connection there is one reader task
(frames in: validate, rate-limit, store, broadcast) and one writer task, the only one that
sends. The hub subscription is taken *before* history is read (see ``live_protocol``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from quart import Blueprint, session, url_for, websocket

from quart_chat.auth import AuthUnavailable
from quart_chat.close_codes import Close
from quart_chat.hub.fanout import Subscription
from quart_chat.live_protocol import (
    CHECK_SESSION,
    Closing,
    LiveProtocol,
    ReadAfter,
    ReadLatest,
    retry_later,
    signed_out,
)
from quart_chat.messaging import read_for, send_message
from quart_chat.models import Identity
from quart_chat.profiles import ProfileError
from quart_chat.ratelimit import TokenBucket
from quart_chat.rendering import ZERO_CURSOR, new_client_id
from quart_chat.services import Services
from quart_chat.store import StoreError
from quart_chat.validation import TYPING, FrameError, is_room_name, parse_frame
from quart_chat.web.context import app_services
from quart_chat.web.security import TOKEN_KEY, csrf_token, current_identity, origin_allowed, profile_of

bp = Blueprint("live", __name__)
log = logging.getLogger(__name__)

BATCH_LIMIT = 64  # rows joined into one frame under load


async def _close(closing: Closing) -> None:
    if closing.fragment:
        await websocket.send(closing.fragment)
    await websocket.close(closing.code, closing.reason)


async def _refuse(closing: Closing) -> None:
    await websocket.accept()
    await _close(closing)


@bp.websocket("/rooms/<room>/ws")
async def room_socket(room: str) -> None:
    services: Services = app_services()
    settings = services.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        log.warning("refused websocket: origin %r", websocket.headers.get("Origin"))
        services.metrics.connections_refused.labels("origin").inc()
        await _refuse(Closing(Close.POLICY_VIOLATION, "origin not allowed"))
        return
    if not is_room_name(room):
        services.metrics.connections_refused.labels("room").inc()
        await _refuse(Closing(Close.POLICY_VIOLATION, "no such room"))
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
            await _refuse(retry_later(services.renderer, Close.TRY_AGAIN_LATER, "sign-in unavailable"))
            return
    login_href = url_for("auth.login_form", next=f"/rooms/{room}")
    if me is None:
        log.info("refused websocket: not signed in (room=%s)", room)
        services.metrics.connections_refused.labels("auth").inc()
        await _refuse(signed_out(services.renderer, login_href, "not signed in"))
        return
    after = websocket.args.get("after", ZERO_CURSOR)
    if not services.store.valid_cursor(after):
        # Not a cursor a page of ours rendered: answered as a page without one (catch-up from the
        # start, or the latest page past CHAT_CATCHUP_LIMIT), never a failed store read.
        log.info("ignoring a bad after= cursor uid=%s room=%s", me.uid, room)
        after = ZERO_CURSOR
    try:
        # Made here if new: others see this name in "here now" and "is typing…"; rows use its zone.
        profile = await profile_of(me)
    except ProfileError:
        log.warning("profiles unavailable at connect uid=%s room=%s", me.uid, room, exc_info=True)
        services.metrics.connections_refused.labels("profiles").inc()
        await _refuse(retry_later(services.renderer, Close.TRY_AGAIN_LATER, "profiles unavailable"))
        return
    await websocket.accept()
    connection = LiveConnection(
        services, room, me, session.get(TOKEN_KEY, ""), after, login_href, time_zone=profile.time_zone
    )
    await connection.run()


class LiveConnection:
    """One browser tab in one room: the core's state plus the two tasks that do its I/O."""

    def __init__(
        self,
        services: Services,
        room: str,
        me: Identity,
        token: str,
        after: str,
        login_href: str,
        time_zone: str = "UTC",
    ) -> None:
        self.services = services
        self.settings = settings = services.settings
        self.room = room
        self.me = me
        self.token = token
        self.subscription: Subscription | None = None
        self.core = LiveProtocol(
            room=room,
            after=after,
            renderer=services.renderer,
            login_href=login_href,
            catchup_limit=settings.catchup_limit,
            page_size=settings.history_page_size,
            heartbeat=settings.heartbeat_interval,
            revocation_interval=settings.revocation_check_interval,
            now=time.monotonic(),
            time_zone=time_zone,
        )
        # What the no-JS form posts to and its CSRF token; a fresh client id per composer sent.
        self._composer_action = url_for("chat.post_message", room=room)
        self._csrf = csrf_token()

    async def run(self) -> None:
        log.info("connect uid=%s room=%s", self.me.uid, self.room)
        presence = self.services.presence
        async with self.services.hub.subscribe(self.room) as sub:
            self.subscription = sub
            self.services.connections.add(self)
            presence.join(self.room, self.me.uid, sub)  # after the subscription: this tab hears the update too
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
                presence.leave(self.room, self.me.uid)  # synchronous; the tracker is written in a task
                log.info("disconnect uid=%s room=%s", self.me.uid, self.room)
                for task in (writer, reader):
                    task.cancel()
                await asyncio.gather(writer, reader, return_exceptions=True)

    def close_for(self, code: int, reason: str) -> None:
        """Ask this socket to close (log-out, shutdown); its writer sends the last fragment."""
        if self.subscription is not None:
            self.subscription.request_close(code, reason)

    # -- writer: the only task that sends ------------------------------------------------

    async def _write(self, sub: Subscription) -> None:
        core, metrics = self.core, self.services.metrics
        while core.closing is None:
            need = core.need
            if need is CHECK_SESSION:
                core.session_checked(await self._session_stands())
                continue
            if isinstance(need, ReadAfter | ReadLatest):
                await self._read_store(need)
                continue
            out = core.data_to_send()
            if out is not None:
                await websocket.send(out.frame)
                metrics.messages_delivered.inc(out.delivered)
                written = time.time()
                for when in out.stored_at:
                    if when:
                        metrics.send_to_deliver.observe(max(0.0, written - when))
            ready = await sub.wait(timeout=core.heartbeat)
            if sub.close_request is not None:
                core.close_requested(sub.close_request.code, sub.close_request.reason)
            else:
                core.woke(sub.drain(BATCH_LIMIT) if ready else [], time.monotonic())
        closing = core.closing
        if closing.code == Close.TRY_AGAIN_LATER:
            metrics.slow_consumers_closed.inc()
            log.warning("slow consumer closed uid=%s room=%s", self.me.uid, self.room)
        elif closing.code == Close.SERVICE_RESTART:
            log.info("closing for restart uid=%s room=%s", self.me.uid, self.room)
        await _close(closing)

    async def _read_store(self, need: ReadAfter | ReadLatest) -> None:
        try:
            read = await read_for(self.services, self.room, need)  # rows, the row before, their authors
        except StoreError:
            log.exception("catch-up failed room=%s", self.room)
            self.core.store_failed()
            return
        self.core.store_read(read.messages, read.previous, read.profiles)

    async def _session_stands(self) -> bool | None:
        """Is this socket's session still signed in? ``None``: cannot tell now."""
        try:
            identity = await self.services.identity.verify(self.token, check_revoked=True)
        except AuthUnavailable:
            log.warning("revocation check unavailable; keeping the socket uid=%s room=%s", self.me.uid, self.room)
            return None
        if identity is None:
            log.info("session ended; closing uid=%s room=%s", self.me.uid, self.room)
        return identity is not None

    # -- reader: frames from the browser -------------------------------------------------

    def _composer(self) -> str:
        return self.services.renderer.composer(
            self.room,
            self.settings.max_message_chars,
            action=self._composer_action,
            csrf=self._csrf,
            client_id=new_client_id(),
        )

    async def _read(self, sub: Subscription) -> None:
        settings, renderer, metrics = self.settings, self.services.renderer, self.services.metrics
        bucket = TokenBucket(settings.rate_limit_per_minute, settings.rate_limit_burst)
        # Typing notices get a bucket of their own, as strict as messages', so typing never costs a
        # message; a flood is dropped quietly (the composer throttles; only a script floods).
        typing_bucket = TokenBucket(settings.rate_limit_per_minute, settings.rate_limit_burst)
        presence = self.services.presence
        used_client_id: str | None = None  # the composer last sent: a late notice from it is stale
        while True:
            raw = await websocket.receive()
            try:
                frame = parse_frame(raw, settings.max_message_chars, settings.max_frame_bytes)
            except FrameError as exc:
                metrics.messages_refused.labels("invalid").inc()
                sub.offer(renderer.composer_error(exc.message))
                continue
            if frame.notice is not None:
                if frame.client_id is not None and frame.client_id == used_client_id:
                    continue  # throttled before the send, arrived after it
                if not typing_bucket.take():
                    metrics.messages_refused.labels("typing_rate_limited").inc()
                elif frame.notice == TYPING:
                    await presence.typing(self.room, self.me.uid)
                else:
                    await presence.stopped(self.room, self.me.uid)
                continue
            if not frame.text:
                continue
            metrics.messages_received.inc()
            if not bucket.take():
                metrics.messages_refused.labels("rate_limited").inc()
                wait = max(1, round(bucket.retry_after()))
                sub.offer(renderer.composer_error(f"You are sending too fast. Try again in {wait} s."))
                continue
            try:
                await send_message(self.services, self.room, self.me, frame.text, client_id=frame.client_id)
            except StoreError:
                metrics.messages_refused.labels("store_failed").inc()
                log.exception("store failed; message refused uid=%s room=%s", self.me.uid, self.room)
                sub.offer(renderer.composer_error("Not sent: the message could not be saved. Try again."))
                continue
            used_client_id = frame.client_id
            await presence.stopped(self.room, self.me.uid)
            sub.offer(self._composer())
