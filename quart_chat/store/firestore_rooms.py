"""The Firestore room store: public rooms, memberships with read cursors, unread and mention counts.

Part of :class:`~quart_chat.store.firestore.FirestoreStore`. Layout (see docs/firebase.md):

- ``rooms/{name}``: ``name``, ``topic``, ``last_active`` (a server timestamp). Made by ``POST /rooms``
  or on a room's first message; the store marks it active at most once per :data:`TOUCH_INTERVAL` per
  instance (a document takes about one write a second, a busy room sends more), so the directory's
  "last active" is that coarse. Conversations have no such document and are never listed.
- ``memberships/{id}``: ``uid``, ``place``, ``partner``, ``read_cursor``, ``joined``, ``left``; ``id``
  is a hash of (uid, place), so joining is a ``create()`` that lands once. Leaving sets ``left`` and
  keeps the read cursor (a place that comes back counts what is new since). Queried by ``uid`` (a
  sidebar) or by ``place`` (a place's members), ``left`` filtered here: single-field indexes only.
- Unread counts are count aggregations over the place's messages after the read cursor, bounded by
  the newest message read just before (so a notice for a later message counts on top, never twice)
  and by ``limit(cap)``. Mentions: the same over ``mentions array-contains uid``, which needs the one
  composite index in :data:`INDEXES` (``firestore.indexes.json``; a test keeps the two the same).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api_errors
from google.cloud.firestore import SERVER_TIMESTAMP, AsyncTransaction, FieldFilter, Query, async_transactional

from quart_chat.firestore_client import plain_utc
from quart_chat.models import ZERO_CURSOR, Message
from quart_chat.places import is_conversation
from quart_chat.store import UNREAD_CAP, Membership, Room, StoreError, Unread

log = logging.getLogger(__name__)

COUNTS_AT_ONCE = 16  # a sidebar's places counted concurrently (three small bounded queries each)
TOUCH_INTERVAL = 30.0  # seconds between two "last active" writes of one room from one instance

# Composite indexes the queries here need, as firestore.indexes.json declares them.
INDEXES = [
    {
        "collectionGroup": "messages",
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "mentions", "arrayConfig": "CONTAINS"},
            {"fieldPath": "created_at", "order": "ASCENDING"},
        ],
    }
]


def membership_id(uid: str, place: str) -> str:
    return hashlib.sha256(f"{uid}\0{place}".encode()).hexdigest()[:32]


def _room(snap: Any) -> Room:
    data = snap.to_dict() or {}
    active = data.get("last_active")
    when = plain_utc(active) if isinstance(active, datetime) else datetime.fromtimestamp(0, UTC)
    return Room(snap.id, str(data.get("topic", "")), when)


def _in_sidebar(snap: Any) -> bool:
    return not (snap.to_dict() or {}).get("left", False)


def _membership(snap: Any) -> Membership:
    data = snap.to_dict() or {}
    try:
        return Membership(data["uid"], data["place"], data.get("partner", ""), data.get("read_cursor", ZERO_CURSOR))
    except KeyError as exc:
        raise StoreError(f"membership {snap.id} lacks {exc}") from None


class FirestoreRooms:
    """The room store's half of ``FirestoreStore`` (which supplies the client and the helpers below)."""

    client: Any
    timeout: float
    touch_interval: float = TOUCH_INTERVAL
    _call: Any
    _messages: Any
    _ordered: Any
    _cursor: Any
    _page: Any

    def _touched(self) -> dict[str, float]:
        touched = self.__dict__.get("_touched_at")
        if touched is None:
            touched = self.__dict__["_touched_at"] = {}
        return touched

    async def touch(self, room: str) -> None:
        """Record a public room's activity, at most once per ``touch_interval`` here; never raises."""
        if is_conversation(room):
            return
        touched, now = self._touched(), time.monotonic()
        if now - touched.get(room, -self.touch_interval) < self.touch_interval:
            return
        touched[room] = now
        ref = self.client.collection("rooms").document(room)
        try:
            await self._call(
                "mark the room active",
                ref.set({"name": room, "last_active": SERVER_TIMESTAMP}, merge=True, timeout=self.timeout),
            )
        except StoreError:  # the message is stored: the room is listed (or moves up) on a later one
            touched.pop(room, None)
            log.warning("could not mark room=%s active", room, exc_info=True)

    async def create_room(self, name: str, topic: str) -> Room:
        ref = self.client.collection("rooms").document(name)
        doc = {"name": name, "topic": topic, "last_active": SERVER_TIMESTAMP}
        with suppress(api_errors.AlreadyExists):  # it exists: open it as it is
            await self._call("make the room", ref.create(doc, timeout=self.timeout))
        snap = await self._call("read the room", ref.get(timeout=self.timeout))
        if not snap.exists:
            raise StoreError(f"room {name!r} vanished right after it was made")
        return _room(snap)

    async def room(self, name: str) -> Room | None:
        if is_conversation(name):
            return None
        snap = await self._call("read a room", self.client.collection("rooms").document(name).get(timeout=self.timeout))
        return _room(snap) if snap.exists else None

    async def rooms(self, limit: int) -> list[Room]:
        query = self.client.collection("rooms").order_by("last_active", direction=Query.DESCENDING).limit(limit)
        return [_room(s) for s in await self._call("list rooms", query.get(timeout=self.timeout))]

    def _member_ref(self, uid: str, place: str) -> Any:
        return self.client.collection("memberships").document(membership_id(uid, place))

    async def join(self, uid: str, place: str, partner: str = "") -> bool:
        ref = self._member_ref(uid, place)
        doc = {
            "uid": uid, "place": place, "partner": partner, "read_cursor": ZERO_CURSOR,
            "joined": SERVER_TIMESTAMP, "left": False,
        }  # fmt: skip
        try:
            await self._call("join", ref.create(doc, timeout=self.timeout))
        except api_errors.AlreadyExists:
            snap = await self._call("read a membership", ref.get(timeout=self.timeout))
            if _in_sidebar(snap):
                return False
            await self._call("join again", ref.update({"left": False}, timeout=self.timeout))
        return True

    async def leave(self, uid: str, place: str) -> bool:
        ref = self._member_ref(uid, place)
        if not (await self._call("read a membership", ref.get(timeout=self.timeout))).exists:
            return False  # never joined: nothing to leave, and no transaction for nothing

        @async_transactional
        async def take_off(transaction: AsyncTransaction) -> bool:
            # In a transaction: of two leaves at once (two tabs), one reports the removal.
            snap = await ref.get(transaction=transaction)
            if not snap.exists or not _in_sidebar(snap):
                return False
            transaction.update(ref, {"left": True})
            return True

        return bool(await self._call("leave", take_off(self.client.transaction())))

    async def _where(self, field: str, value: str, what: str) -> list[Membership]:
        query = self.client.collection("memberships").where(filter=FieldFilter(field, "==", value))
        snaps = await self._call(what, query.get(timeout=self.timeout))
        return [_membership(s) for s in snaps if _in_sidebar(s)]

    async def membership(self, uid: str, place: str) -> Membership | None:
        snap = await self._call("read a membership", self._member_ref(uid, place).get(timeout=self.timeout))
        return _membership(snap) if snap.exists and _in_sidebar(snap) else None

    async def memberships(self, uid: str) -> list[Membership]:
        return await self._where("uid", uid, "read memberships")

    async def members(self, place: str) -> list[Membership]:
        return await self._where("place", place, "read members")

    async def mark_read(self, uid: str, place: str, cursor: str) -> None:
        self._cursor(cursor)  # a bad cursor is a ValueError, as for every read
        ref = self._member_ref(uid, place)
        if not (await self._call("read a membership", ref.get(timeout=self.timeout))).exists:
            return  # not a member: no transaction (nor contention) for nothing

        @async_transactional
        async def forward(transaction: AsyncTransaction) -> None:
            snap = await ref.get(transaction=transaction)
            data = snap.to_dict() or {}
            if snap.exists and not data.get("left") and str(data.get("read_cursor", ZERO_CURSOR)) < cursor:
                transaction.update(ref, {"read_cursor": cursor})

        await self._call("mark as read", forward(self.client.transaction()))

    async def _count(self, query: Any, what: str) -> int:
        results = await self._call(what, query.count(alias="n").get(timeout=self.timeout))
        return int(results[0][0].value) if results and results[0] else 0

    async def unread(self, membership: Membership, cap: int = UNREAD_CAP) -> Unread:
        start = self._cursor(membership.read_cursor)
        newest: list[Message] = await self._page(membership.place, None, 1, Query.DESCENDING, "read the newest message")
        if not newest or newest[-1].cursor <= membership.read_cursor:
            return Unread(0, 0, newest[-1].cursor if newest else ZERO_CURSOR)
        latest = newest[-1].cursor
        end = self._cursor(latest)
        after = self._ordered(membership.place, Query.ASCENDING).start_after(start).end_at(end).limit(cap)
        mentioning = (
            self._messages(membership.place)
            .where(filter=FieldFilter("mentions", "array_contains", membership.uid))
            .order_by("created_at")
            .order_by("__name__")
            .start_after(start)
            .end_at(end)
            .limit(cap)
        )
        count = await self._count(after, "count unread messages")
        mentions = await self._count(mentioning, "count mentions")
        return Unread(count, mentions, latest)

    async def unread_many(self, memberships: Sequence[Membership], cap: int = UNREAD_CAP) -> dict[str, Unread]:
        """Each membership's bounded counts (``limit(cap)`` under a count aggregation: a place far
        behind costs no more than one ``cap`` behind), :data:`COUNTS_AT_ONCE` places at a time."""
        gate = asyncio.Semaphore(COUNTS_AT_ONCE)

        async def one(m: Membership) -> Unread:
            async with gate:
                return await self.unread(m, cap)

        counted = await asyncio.gather(*(one(m) for m in memberships))
        return {m.place: u for m, u in zip(memberships, counted, strict=True)}
