"""The Cloud Firestore message store (``CHAT_STORE=firestore``), on firebase-admin's async client.

Layout: ``rooms/{room}/messages/{id}`` (a conversation's: ``conversations/{key}/messages/{id}``) with
``author_uid``, ``author_name``, ``text``, ``created_at`` (a server timestamp, microsecond precision)
and, when it mentions people, ``mentions`` (their uids) beside ``mention_handles`` (the handles, in
the same order). The room store's documents are described in ``store/firestore_rooms.py``.

Order is (created_at, document id) everywhere, and :attr:`Message.cursor`
(``f"{micros:017d}-{id}"``) sorts the same way: every id is 32 lowercase hex
digits, so comparing ids as strings (Python) and as document names (Firestore,
byte-wise) agree, and ties on an identical timestamp break the same way in
both. Ids are chosen before the write -- random, or derived from the
caller's ``message_id`` -- and written with ``create()``, so a retried send
lands once.

Queries use Firestore's automatic single-field index on ``created_at`` (with
``__name__`` in the same direction), so no composite index is needed for them; see
``firestore.indexes.json``. Pages are cursors (``start_after``), never offsets.

The App, the client's life (made in :meth:`open`, on the serving loop) and the
mapping of failures to :class:`StoreError` are :class:`FirestoreComponent`'s.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_errors
from google.cloud.firestore import DELETE_FIELD, SERVER_TIMESTAMP, FieldFilter, Query

from quart_chat.firestore_client import FirestoreComponent, plain_utc
from quart_chat.models import Message, from_micros, parse_cursor
from quart_chat.places import is_conversation
from quart_chat.store import StoreError
from quart_chat.store.firestore_rooms import FirestoreRooms

WHAT = "the Firestore message store (CHAT_STORE=firestore)"
# The ids this store makes (``new_id``, ``id_for``), and "0", the page's "from the start".
_CURSOR_ID = re.compile(r"0|[0-9a-f]{32}")
_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")  # every id this store makes
_CHANGE_TRIES = 5  # an edit read and checked again when a write came in between
_ROOM_FORBIDDEN = re.compile(r"/|^\.\.?$|^__.*__$")


def new_id() -> str:
    return uuid.uuid4().hex


def id_for(message_id: str) -> str:
    """The document id for a caller's message id: deterministic, and shaped like every other id."""
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]


def _room(room: str) -> str:
    if not room or len(room.encode("utf-8")) > 512 or _ROOM_FORBIDDEN.search(room):
        raise ValueError(f"not a usable room name for Firestore: {room[:40]!r}")
    return room


class FirestoreStore(FirestoreRooms, FirestoreComponent):
    KIND = "store"
    WHAT = WHAT
    ERROR = StoreError
    NOT_OPEN = "the message store is not open"
    # add() tells a replayed send by AlreadyExists, join() a second join; leave() ignores NotFound.
    PASSES = (api_errors.AlreadyExists, api_errors.NotFound)

    def _messages(self, room: str) -> Any:
        parent = "conversations" if is_conversation(room) else "rooms"
        return self.client.collection(parent).document(_room(room)).collection("messages")

    @staticmethod
    def _message(room: str, snap: Any) -> Message:
        data = snap.to_dict() or {}
        created = data.get("created_at")
        if not isinstance(created, datetime):
            raise StoreError(f"message {snap.id} in {room!r} has no server timestamp")
        mentions = tuple(zip(data.get("mention_handles", ()), data.get("mentions", ()), strict=False))
        changed = data.get("changed_at")
        return Message(
            snap.id,
            room,
            data["author_uid"],
            data["author_name"],
            data["text"],
            plain_utc(created),
            mentions,
            plain_utc(changed) if isinstance(changed, datetime) else None,
            bool(data.get("deleted", False)),
        )

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
        ref = self._messages(room).document(id_for(message_id) if message_id is not None else new_id())
        doc: dict[str, Any] = {
            "author_uid": author_uid,
            "author_name": author_name,
            "text": text,
            "created_at": SERVER_TIMESTAMP,
        }
        if mentions:
            doc["mention_handles"] = [handle for handle, _ in mentions]
            doc["mentions"] = [uid for _, uid in mentions]
        replayed = False
        try:
            await self._call("store the message", ref.create(doc, timeout=self.timeout))
        except api_errors.AlreadyExists:  # a retry of a send that already landed: return the stored one
            replayed = True
        # Read back: what we return (and broadcast) is exactly what is stored, with its server time.
        snap = await self._call("read the stored message", ref.get(timeout=self.timeout))
        if not snap.exists:
            raise StoreError(f"message {ref.id} vanished right after it was stored")
        if not replayed:
            await self.touch(room)
        return dataclasses.replace(self._message(room, snap), replayed=replayed)

    async def _query(self, room: str, query: Any, what: str) -> list[Message]:
        snaps: Sequence[Any] = await self._call(what, query.get(timeout=self.timeout))
        return [self._message(room, s) for s in snaps]

    def _ordered(self, room: str, direction: str) -> Any:
        return (
            self._messages(room)
            .order_by("created_at", direction=direction)
            .order_by("__name__", direction=direction)
        )

    def valid_cursor(self, cursor: str) -> bool:
        try:
            self._cursor(cursor)
        except ValueError:
            return False
        return True

    @staticmethod
    def _cursor(cursor: str) -> dict[str, Any]:
        created_at, message_id = parse_cursor(cursor)
        if not _CURSOR_ID.fullmatch(message_id):
            raise ValueError(f"not a Firestore message cursor: {cursor[:40]!r}")
        return {"created_at": created_at, "__name__": message_id}

    async def latest(self, room: str, limit: int) -> list[Message]:
        return await self._page(room, None, limit, Query.DESCENDING, "read messages")

    async def before(self, room: str, cursor: str, limit: int) -> list[Message]:
        return await self._page(room, cursor, limit, Query.DESCENDING, "read older messages")

    async def after(self, room: str, cursor: str, limit: int) -> list[Message]:
        return await self._page(room, cursor, limit, Query.ASCENDING, "read newer messages")

    async def _page(self, room: str, cursor: str | None, limit: int, direction: str, what: str) -> list[Message]:
        """Up to ``limit`` rows past ``cursor`` (from the newest without one) in ``direction``, oldest first."""
        start = None if cursor is None else self._cursor(cursor)  # a bad cursor raises, even for limit 0
        if limit <= 0:
            return []
        query = self._ordered(room, direction)
        if start is not None:
            query = query.start_after(start)
        rows = await self._query(room, query.limit(limit), what)
        if direction == Query.DESCENDING:
            rows.reverse()
        return rows

    async def get(self, room: str, message_id: str) -> Message | None:
        if not _MESSAGE_ID.fullmatch(message_id):
            return None
        snap = await self._call("read the message", self._messages(room).document(message_id).get(timeout=self.timeout))
        return self._message(room, snap) if snap.exists else None

    async def edit(
        self, room: str, message_id: str, author_uid: str, text: str, mentions: Sequence[tuple[str, str]] = ()
    ) -> Message | None:
        change: dict[str, Any] = {"text": text, "mention_handles": DELETE_FIELD, "mentions": DELETE_FIELD}
        if mentions:
            change["mention_handles"] = [handle for handle, _ in mentions]
            change["mentions"] = [uid for _, uid in mentions]
        return await self._change(room, message_id, author_uid, change, "edit the message")

    async def delete(self, room: str, message_id: str, author_uid: str) -> Message | None:
        change = {"text": "", "mention_handles": DELETE_FIELD, "mentions": DELETE_FIELD, "deleted": True}
        return await self._change(room, message_id, author_uid, change, "delete the message")

    async def _change(
        self, room: str, message_id: str, author_uid: str, change: dict[str, Any], what: str
    ) -> Message | None:
        """Read, check the author and that it is not deleted, then update only if nobody wrote it since.

        The update is conditional on the read's ``update_time`` (a precondition, not a transaction:
        the deny-all rules and the admin client allow both, and this is one document); a write in
        between (another edit, a deletion) makes it read and check again.
        """
        if not _MESSAGE_ID.fullmatch(message_id):
            return None
        ref = self._messages(room).document(message_id)
        for _ in range(_CHANGE_TRIES):
            snap = await self._call("read the message", ref.get(timeout=self.timeout))
            data = snap.to_dict() if snap.exists else None
            if data is None or data.get("author_uid") != author_uid or data.get("deleted"):
                return None
            option = self.client.write_option(last_update_time=snap.update_time)
            try:
                # changed_at: the commit's own time, later than every write visible before it.
                update = ref.update({**change, "changed_at": SERVER_TIMESTAMP}, option=option, timeout=self.timeout)
                await self._call(what, update)
            except StoreError as exc:
                if isinstance(exc.__cause__, api_errors.FailedPrecondition):  # written since the read
                    continue
                raise
            stored = await self._call("read the changed message", ref.get(timeout=self.timeout))
            return self._message(room, stored) if stored.exists else None
        raise StoreError(f"could not {what}: it kept changing underneath")

    async def changes(self, room: str, since: int, limit: int) -> list[Message]:
        if limit <= 0:
            return []
        query = (
            self._messages(room)
            .where(filter=FieldFilter("changed_at", ">", from_micros(since)))
            .order_by("changed_at")
            .limit(limit)
        )
        return await self._query(room, query, "read changed messages")

    async def ping(self) -> None:
        """One cheap document read: proves the credential, the project and the network."""
        await self._call(
            "reach Firestore", self.client.collection("health").document("ping").get(timeout=self.timeout)
        )
