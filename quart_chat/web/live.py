"""A place's WebSocket (a room's or a conversation's), the shell: authenticate, then move frames
between the browser and the core.

What to send and when to close is decided by :class:`~quart_chat.live_protocol.LiveProtocol`
(no I/O); this module only reads and writes frames, awaits the store and the identity
provider, and feeds what happened to the core. Per connection there is one reader task
(frames in: :class:`~quart_chat.live_reader.FrameReader` decides, the shell stores and
broadcasts) and one writer task, the only one that sends. The hub subscription is taken
*before* history is read (see ``live_protocol``). A person holds at most
``CHAT_MAX_SOCKETS_PER_PERSON`` sockets on all instances (a lease on the limiter); a newer one is
refused with 1008.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from quart import Blueprint, session, url_for, websocket

from quart_chat import nonces, notices
from quart_chat.auth import AuthUnavailable
from quart_chat.close_codes import Close
from quart_chat.hub.fanout import SLOW_CONSUMER, Subscription
from quart_chat.live_protocol import (
    CHECK_SESSION,
    READ_SIDEBAR,
    Closing,
    LiveProtocol,
    Need,
    ReadAfter,
    ReadLatest,
    retry_later,
    signed_out,
)
from quart_chat.live_reader import Answer, FrameReader, Hangup, Notice, Post
from quart_chat.membership import entries_for
from quart_chat.messaging import SendingTooFast, read_for, send_message
from quart_chat.models import Identity
from quart_chat.places import Place
from quart_chat.profiles import ProfileError
from quart_chat.rendering import ZERO_CURSOR, new_client_id
from quart_chat.services import Services
from quart_chat.sidebar import Sidebar
from quart_chat.store import StoreError
from quart_chat.validation import TYPING, is_room_name
from quart_chat.web.context import app_services
from quart_chat.web.places import PEER, NoSuchPlace, moved_message, peer_matches, resolve
from quart_chat.web.security import TOKEN_KEY, csrf_token, current_identity, origin_allowed, profile_of

bp = Blueprint("live", __name__)
log = logging.getLogger(__name__)

BATCH_LIMIT = 64  # rows joined into one frame under load
NOT_SAVED = "Not sent: the message could not be saved. Try again; your message is kept."
NONCE_ARG = "n"  # the socket URL's page nonce (chat_views puts it there)
TOO_MANY_TABS = "This chat is open in too many tabs. Close some, then reload this one."



def change_cursor_arg(value: str | None) -> int | None:
    """The page's ``changed=`` (``models.change_cursor``): decimal digits only; else None, a page
    that asks for no changes (an older page, or a made-up value: never a failed read)."""
    if value is None or not (value.isascii() and value.isdecimal()) or len(value) > 17:
        return None
    return int(value)


def page_nonce() -> str | None:
    """The CSP nonce of the page that opened this socket (its ``n=``), if it is one of ours in shape.

    Every frame's hx-* elements are stamped with it (``nonces.stamp``): hx-csp strips the hx-*
    attributes of an element whose hx-nonce is not the page's, and frames (rendered once for
    everyone) cannot know it. Echoing the page's own nonce back to it is no weaker than the page's
    own hx-nonce attributes: it proves the element came from our server, which it did.
    """
    nonce = websocket.args.get(NONCE_ARG)
    return nonce if nonces.valid(nonce) else None


async def _send(html: str) -> None:
    """A closing frame, stamped with its page's nonce (the writer stamps its frames itself, with
    the nonce it read once)."""
    await websocket.send(nonces.stamp(html, page_nonce()))


async def _close(closing: Closing) -> None:
    # Like every write, these wait at most CHAT_SEND_TIMEOUT for the client to take them (and the
    # client as long to answer the close); then Hypercorn, as quart_chat.hypercorn_patches fixes
    # it, resets the connection and this task is cancelled with the disconnect.
    if closing.fragment:
        await _send(closing.fragment)
    await websocket.close(closing.code, closing.reason)


async def _refuse(closing: Closing) -> None:
    await websocket.accept()
    await _close(closing)


@bp.websocket("/rooms/<room>/ws")
async def room_socket(room: str) -> None:
    await _place_socket(f"/rooms/{room}", room=room)


@bp.websocket("/dm/<handle>/ws")
async def conversation_socket(handle: str) -> None:
    await _place_socket(f"/dm/{handle}", handle=handle)


async def _place_socket(page: str, *, room: str | None = None, handle: str | None = None) -> None:
    """Origin, then who (session and revocation), then where: ``web.places.resolve``, the check every
    route of a place goes through; one that is not the viewer's is refused with 1008, like no room."""
    services: Services = app_services()
    settings = services.settings
    if not origin_allowed(websocket, settings.allowed_origins):
        log.warning("refused websocket: origin %r", websocket.headers.get("Origin"))
        services.metrics.connections_refused.labels("origin").inc()
        await _refuse(Closing(Close.POLICY_VIOLATION, "origin not allowed"))
        return
    if room is not None and not is_room_name(room):
        services.metrics.connections_refused.labels("room").inc()
        await _refuse(Closing(Close.POLICY_VIOLATION, "no such room"))
        return
    try:
        me = await current_identity(check_revoked=True)
    except AuthUnavailable:
        # Firebase cannot be asked about revocation: "cannot tell" is not "signed out". A cookie
        # that verifies on its own gets in; the interval check asks again once Firebase answers.
        log.warning("revocation check unavailable at connect; checking the cookie only (page=%s)", page)
        try:
            me = await current_identity()
        except AuthUnavailable:
            await _refuse(retry_later(services.renderer, Close.TRY_AGAIN_LATER, "sign-in unavailable"))
            return
    login_href = url_for("auth.login_form", next=page)
    if me is None:
        log.info("refused websocket: not signed in (page=%s)", page)
        services.metrics.connections_refused.labels("auth").inc()
        await _refuse(signed_out(services.renderer, login_href, "not signed in"))
        return
    changed = change_cursor_arg(websocket.args.get("changed"))
    after = websocket.args.get("after", ZERO_CURSOR)
    if not services.store.valid_cursor(after):
        # Not a cursor a page of ours rendered: answered as a page without one (catch-up from the
        # start, or the latest page past CHAT_CATCHUP_LIMIT), never a failed store read.
        log.info("ignoring a bad after= cursor uid=%s page=%s", me.uid, page)
        after = ZERO_CURSOR
    try:
        # Made here if new: others see this name in "here now" and "is typing…"; rows use its zone.
        profile = await profile_of(me)
        place = await resolve(me, room=room, handle=handle)
    except NoSuchPlace:
        log.info("refused websocket: not a place of uid=%s (page=%s)", me.uid, page)
        services.metrics.connections_refused.labels("room").inc()
        await _refuse(Closing(Close.POLICY_VIOLATION, "no such room"))
        return
    except (ProfileError, StoreError):
        log.warning("store or profiles unavailable at connect uid=%s page=%s", me.uid, page, exc_info=True)
        services.metrics.connections_refused.labels("profiles").inc()
        await _refuse(retry_later(services.renderer, Close.TRY_AGAIN_LATER, "profiles unavailable"))
        return
    if not peer_matches(place, websocket.args.get(PEER), required=True):
        # The handle names another conversation than the page's (it changed hands): subscribe to
        # nothing, join no presence, and say why; htmx does not retry a 1008.
        log.info("refused websocket: a page of another conversation uid=%s page=%s", me.uid, page)
        services.metrics.connections_refused.labels("room").inc()
        moved = services.renderer.status("closed", moved_message(place))
        await _refuse(Closing(Close.POLICY_VIOLATION, "handle changed hands", moved))
        return
    lease, member = f"sockets:{me.uid}", secrets.token_urlsafe(12)
    if not await services.limiter.hold(lease, member, settings.max_sockets_per_person):
        log.warning("refused websocket: too many sockets uid=%s page=%s", me.uid, page)
        services.metrics.connections_refused.labels("too_many_sockets").inc()
        too_many = services.renderer.status("closed", TOO_MANY_TABS)
        await _refuse(Closing(Close.POLICY_VIOLATION, "too many connections", too_many))
        return
    try:
        await websocket.accept()
        connection = LiveConnection(
            services,
            place,
            me,
            session.get(TOKEN_KEY, ""),
            after,
            login_href,
            time_zone=profile.time_zone,
            changed=changed,
        )
        await connection.run()
    finally:
        services.limiter.release(lease, member)  # synchronous: this task may be being cancelled


class LiveConnection:
    """One browser tab in one place: the core's state plus the two tasks that do its I/O."""

    def __init__(
        self,
        services: Services,
        place: Place,
        me: Identity,
        token: str,
        after: str,
        login_href: str,
        time_zone: str = "UTC",
        changed: int | None = None,
    ) -> None:
        self.services = services
        self.settings = settings = services.settings
        self.place = place
        self.room = room = place.key  # what the store, the hub and presence call it
        self.me = me
        self.token = token
        self.subscription: Subscription | None = None
        self._hangup: Closing | None = None  # the reader's reason to close (too many frames)
        # What the no-JS form posts to and its CSRF token; a fresh client id per composer sent.
        self._composer_action = f"{place.path}/messages"
        self._csrf = csrf_token()
        sidebar = Sidebar(viewer=me.uid, current=room, label=place.label, path=place.path)
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
            session=notices.session_id(token),
            place=place,
            sidebar=sidebar,
            csrf=self._csrf,
            changed=changed,
        )

    async def run(self) -> None:
        log.info("connect uid=%s room=%s", self.me.uid, self.room)
        presence = self.services.presence
        # The person's channel too: their sidebar's notices and a sign-out on any instance.
        async with self.services.hub.subscribe(self.room, person=self.me.uid) as sub:
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
                self._record_read(final=True)  # what it was shown last (synchronous, written in a task)
                self._count_slow_consumer(sub)
                log.info("disconnect uid=%s room=%s", self.me.uid, self.room)
                for task in (writer, reader):
                    task.cancel()
                await asyncio.gather(writer, reader, return_exceptions=True)

    def _count_slow_consumer(self, sub: Subscription) -> None:
        """Once per socket whose queue overflowed, whether its 1013 reached it or the transport
        dropped it first (a client that reads nothing never takes the close frame either)."""
        request = sub.close_request
        if request is not None and request.reason == SLOW_CONSUMER:
            self.services.metrics.slow_consumers_closed.inc()
            log.warning("slow consumer closed uid=%s room=%s", self.me.uid, self.room)

    @property
    def uid(self) -> str:
        return self.me.uid

    def close_for(self, code: int, reason: str) -> None:
        """Ask this socket to close (log-out, shutdown); its writer sends the last fragment."""
        if self.subscription is not None:
            self.subscription.request_close(code, reason)

    # -- writer: the only task that sends ------------------------------------------------

    async def _write(self, sub: Subscription) -> None:
        core, metrics = self.core, self.services.metrics
        nonce = page_nonce()  # once per socket, not per frame
        while core.closing is None:
            need = core.need
            if need is not None:
                await self._meet(need)
                continue
            out = core.data_to_send()
            if out is not None:
                await websocket.send(nonces.stamp(out.frame, nonce))
                self._record_read()
                metrics.messages_delivered.inc(out.delivered)
                written = time.time()
                for when in out.stored_at:
                    if when:
                        metrics.send_to_deliver.observe(max(0.0, written - when))
            ready = await sub.wait(timeout=core.heartbeat)
            if sub.close_request is not None and self._hangup is not None:
                core.hang_up(self._hangup)
            elif sub.close_request is not None:
                core.close_requested(sub.close_request.code, sub.close_request.reason)
            else:
                core.woke(sub.drain(BATCH_LIMIT) if ready else [], time.monotonic())
        closing = core.closing
        if closing.code == Close.SERVICE_RESTART:
            log.info("closing for restart uid=%s room=%s", self.me.uid, self.room)
        await _close(closing)

    async def _meet(self, need: Need) -> None:
        """The I/O the core asked for: the session, rows from the store, the sidebar."""
        if need is CHECK_SESSION:
            self.core.session_checked(await self._session_stands())
        elif need is READ_SIDEBAR:
            await self._read_sidebar()
        elif isinstance(need, ReadAfter | ReadLatest):
            await self._read_store(need)

    async def _read_sidebar(self) -> None:
        services = self.services
        try:
            memberships = await services.rooms.memberships(self.me.uid)
            entries = await entries_for(services.rooms, services.profiles, self.me.uid, memberships, self.room)
        except (StoreError, ProfileError):
            log.exception("sidebar unavailable uid=%s room=%s", self.me.uid, self.room)
            self.core.store_failed()
            return
        self.core.sidebar_read(entries)

    def _record_read(self, *, final: bool = False) -> None:
        """Record how far this page has shown its place, when the core says it is time (off this task)."""
        cursor = self.core.read_cursor(time.monotonic(), final=final)
        if cursor is not None:
            self.services.reads.record(self.me.uid, self.room, cursor)

    async def _read_store(self, need: ReadAfter | ReadLatest) -> None:
        try:
            read = await read_for(self.services, self.room, need)  # rows, the row before, their authors
        except StoreError:
            log.exception("catch-up failed room=%s", self.room)
            self.core.store_failed()
            return
        self.core.store_read(read.messages, read.previous, read.profiles, read.changes)

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

    def _composer(self, text: str = "", error: str = "", *, to_bottom: bool = False) -> str:
        """This socket's composer: empty after a send (and the list scrolled to its newest row), or
        with a refused ``text`` kept and the ``error`` beside it."""
        return self.services.renderer.composer(
            self.place.label,
            self.settings.max_message_chars,
            action=self._composer_action,
            csrf=self._csrf,
            client_id=new_client_id(),
            peer=self.place.check,
            text=text,
            error=error,
            to_bottom=to_bottom,
        )

    async def _read(self, sub: Subscription) -> None:
        settings, metrics = self.settings, self.services.metrics
        reader = FrameReader(
            renderer=self.services.renderer,
            max_chars=settings.max_message_chars,
            max_bytes=settings.max_frame_bytes,
            frames_per_minute=settings.frames_per_minute,
            notice_rate=self.services.message_rate,  # as strict as messages', so typing never costs a message
            now=time.monotonic(),
            composer=self._composer,
        )
        presence = self.services.presence
        while True:
            action = reader.received(await websocket.receive(), time.monotonic())
            if isinstance(action, Post):
                action = await self._post(reader, action, sub)
            if action.reason:
                metrics.messages_refused.labels(action.reason).inc()
            if isinstance(action, Answer):
                sub.offer(action.fragment)
            elif isinstance(action, Notice):
                if action.kind == TYPING:
                    await presence.typing(self.room, self.me.uid)
                else:
                    await presence.stopped(self.room, self.me.uid)
            elif isinstance(action, Hangup):
                log.warning("closing: %s uid=%s room=%s", action.closing.reason, self.me.uid, self.room)
                self._hangup = action.closing
                sub.request_close(action.closing.code, action.closing.reason)
                # Read no more, but do not end first: run() would cancel the writer before it sent the
                # close. The writer ends once it has, and run() then cancels this task.
                await asyncio.get_running_loop().create_future()

    async def _post(self, reader: FrameReader, post: Post, sub: Subscription) -> Answer | Post:
        """Store and broadcast a message; the answer if it was refused (too fast, store down)."""
        metrics = self.services.metrics
        metrics.messages_received.inc()
        try:
            await send_message(self.services, self.place, self.me, post.text, client_id=post.client_id)
        except SendingTooFast as exc:
            return reader.too_fast(exc.wait, post.text)
        except StoreError:
            log.exception("store failed; message refused uid=%s room=%s", self.me.uid, self.room)
            error = reader.refusal(NOT_SAVED, post.text)
            return Answer(error, "store_failed")
        reader.sent(post.client_id)
        await self.services.presence.stopped(self.room, self.me.uid)
        sub.offer(self._composer(to_bottom=True))
        return post
