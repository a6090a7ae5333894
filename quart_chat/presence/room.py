"""Presence and typing for the live rooms: hub signals in, one rendered fragment per room out.

The sockets call :meth:`RoomPresence.join` / :meth:`leave` (synchronous, so they are safe in a
clean-up that may be cancelled; the I/O runs in a task, in order) and :meth:`typing` /
:meth:`sent`. A change is told to every instance serving the room through the hub's signals;
each instance then renders the room's ``#presence`` or ``#typing`` partial once (not per
recipient) and offers it to its own subscribers there, only when it differs from what it last
sent. A timer clears typists whose notices stopped; another refreshes the tracker and
re-renders each local room's list, which heals a lost signal or a crashed instance.

The typer's own "is typing…" entry is rendered for everyone and hidden from them alone by the
per-viewer stylesheet (``/me.css``, by ``data-uid``), so rendering stays once per room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from contextlib import suppress
from typing import Any

from quart_chat.hub import Hub
from quart_chat.hub.fanout import Subscription
from quart_chat.models import Profile
from quart_chat.presence import PRESENCE_REFRESH, PresenceTracker
from quart_chat.presence.typing import TYPING_TIMEOUT, Typists
from quart_chat.profiles import ProfileStore
from quart_chat.rendering import Renderer

log = logging.getLogger(__name__)

PRESENCE, TYPING, TYPING_STOP = "presence", "typing", "typing-stop"
STOP_WAIT = 2.0  # seconds stop() waits for joins and leaves still writing to the tracker


class RoomPresence:
    def __init__(
        self,
        tracker: PresenceTracker,
        hub: Hub,
        profiles: ProfileStore,
        renderer: Renderer,
        *,
        typing_timeout: float = TYPING_TIMEOUT,
        refresh_interval: float = PRESENCE_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.hub = hub
        self.profiles = profiles
        self.renderer = renderer
        self.typists = Typists(typing_timeout)
        self.refresh_interval = refresh_interval
        self.clock = clock
        self._dirty: dict[tuple[str, str], None] = {}  # (kind, room) to re-render, in order
        self._wake = asyncio.Event()
        self._last: dict[tuple[str, str], str] = {}  # what each local room was last sent
        self._tasks: set[asyncio.Task[None]] = set()  # joins and leaves writing to the tracker
        self._loops: list[asyncio.Task[None]] = []

    # -- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loops:
            return
        await self.tracker.start()
        self.hub.on_signal(self._on_signal)
        self._loops = [asyncio.create_task(self._render_forever()), asyncio.create_task(self._refresh_forever())]

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=STOP_WAIT)
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with suppress(asyncio.CancelledError):
                await task
        self._loops = []
        try:
            await self.tracker.stop()
        except Exception:
            log.warning("presence: could not remove this instance's entries", exc_info=True)

    # -- what the sockets call -------------------------------------------------------------------

    def join(self, room: str, uid: str, sub: Subscription) -> None:
        """A socket of ``uid`` is in ``room`` (its subscription taken); everyone's list updates."""
        self._spawn(self._join(room, uid, sub))

    def leave(self, room: str, uid: str) -> None:
        """The socket has gone (closed, slow consumer, restart, crash). Synchronous: safe in a finally."""
        self._spawn(self._leave(room, uid))

    async def typing(self, room: str, uid: str) -> None:
        await self.hub.signal(room, {"kind": TYPING, "uid": uid})

    async def stopped(self, room: str, uid: str) -> None:
        """``uid`` sent a message or emptied the draft: no longer typing, at once."""
        if self.typists.is_typing(room, uid):
            await self.hub.signal(room, {"kind": TYPING_STOP, "uid": uid})

    async def people(self, room: str) -> list[Profile]:
        """Who is in ``room`` now, by display name (the page renders this list at load)."""
        return await self._profiles(await self.tracker.people(room))

    async def counts(self, rooms: list[str]) -> dict[str, int]:
        """How many are in each room now, for the directory; none known if they cannot be read now."""
        try:
            return await self.tracker.counts(rooms)
        except Exception:
            log.warning("presence: counts unavailable for the directory", exc_info=True)
            return {}

    async def at_load(self, room: str) -> list[Profile]:
        """The list a page renders at load; empty (the socket fills it in) if it cannot be read now."""
        try:
            return await self.people(room)
        except Exception:
            log.warning("presence: list unavailable for the page room=%s", room, exc_info=True)
            return []

    # -- the work --------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, room: str, change: Awaitable[bool], what: str, heals: str) -> bool:
        """Await the tracker's join or leave; if the room's set of people changed, tell every instance.

        A failed write counts as a change (the lists are re-rendered anyway) and is logged with
        how it ``heals``. Returns whether it counted as a change.
        """
        try:
            changed = await change
        except Exception:
            log.warning("presence: %s not recorded room=%s (%s)", what, room, heals, exc_info=True)
            changed = True
        if changed:
            await self.hub.signal(room, {"kind": PRESENCE})
        return changed

    async def _join(self, room: str, uid: str, sub: Subscription) -> None:
        if not await self._record(room, self.tracker.join(room, uid), "join", "the refresh retries"):
            # another tab or a reconnect: the set is the same, but this page's list may be stale
            sub.offer(await self._presence_fragment(room))

    async def _leave(self, room: str, uid: str) -> None:
        changed = await self._record(room, self.tracker.leave(room, uid), "leave", "the entry expires")
        if changed and self.typists.is_typing(room, uid):
            await self.hub.signal(room, {"kind": TYPING_STOP, "uid": uid})

    def _on_signal(self, room: str, data: dict[str, str]) -> None:
        kind = data.get("kind")
        if kind == PRESENCE:
            self._mark(PRESENCE, room)
        elif kind == TYPING and data.get("uid"):
            if self.typists.typing(room, data["uid"], self.clock()):
                self._mark(TYPING, room)
            else:
                self._wake.set()  # its expiry moved
        elif kind == TYPING_STOP and data.get("uid") and self.typists.stopped(room, data["uid"]):
            self._mark(TYPING, room)

    def _mark(self, kind: str, room: str) -> None:
        self._dirty[(kind, room)] = None
        self._wake.set()

    async def _render_forever(self) -> None:
        while True:
            if not self._dirty:
                due = self.typists.next_expiry()
                timeout = None if due is None else max(0.0, due - self.clock())
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            for room in self.typists.expire(self.clock()):
                self._dirty[(TYPING, room)] = None
            dirty, self._dirty = list(self._dirty), {}
            local = set(self.tracker.local_rooms())
            for kind, room in dirty:
                if room not in local:
                    self._last.pop((kind, room), None)  # nobody here to tell
                    continue
                try:
                    html = await (self._presence_fragment(room) if kind == PRESENCE else self._typing_fragment(room))
                except Exception:
                    log.exception("presence: could not render %s for room=%s", kind, room)
                    continue
                if self._last.get((kind, room)) != html:
                    self._last[(kind, room)] = html
                    self.hub.offer_room(room, html)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval)
            try:
                await self.tracker.refresh()
            except Exception:
                log.warning("presence: refresh failed (retried in %.0f s)", self.refresh_interval, exc_info=True)
            for room in self.tracker.local_rooms():
                self._mark(PRESENCE, room)  # sent only if it changed (an expired instance, a lost signal)

    async def _profiles(self, uids: Iterable[str]) -> list[Profile]:
        found = await self.profiles.get_many(list(uids))
        return sorted(found.values(), key=lambda p: (p.display_name.casefold(), p.handle))

    async def _presence_fragment(self, room: str) -> str:
        return self.renderer.presence(await self.people(room))

    async def _typing_fragment(self, room: str) -> str:
        uids = self.typists.in_room(room)
        found = await self.profiles.get_many(uids)
        return self.renderer.typing(found[uid] for uid in uids if uid in found)
