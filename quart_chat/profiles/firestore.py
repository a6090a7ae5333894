"""Profiles in Cloud Firestore (``CHAT_STORE=firestore``), on firebase-admin's async client.

Layout:
- ``users/{uid}``: ``handle`` (as chosen), ``display_name``, ``colour``, ``time_zone``, ``joined``
  (a server timestamp). No email: only the identity provider knows it.
- ``handles/{handle}``: ``{"uid": ...}``, one per handle, its id the handle in lower case. A handle
  is taken by creating this document, and moved by deleting the old one in the same transaction as
  the profile's change, so two people can never hold one handle in any letter case: Firestore's
  transactions fail (and are retried) when a document they read was written meanwhile.

Every read is by document id (a ``get`` or ``get_all``), so no index is needed; see
``firestore.indexes.json``. Browsers never reach these documents (``firestore.rules`` denies all).
As with the message store, the App, the async client's life and the mapping of failures to
:class:`ProfileError` are :class:`~quart_chat.firestore_client.FirestoreComponent`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_errors
from google.cloud.firestore import SERVER_TIMESTAMP, AsyncTransaction, async_transactional

from quart_chat import people
from quart_chat.firestore_client import FirestoreComponent, plain_utc
from quart_chat.models import Profile
from quart_chat.profiles import HandleTaken, ProfileChanges, ProfileError

WHAT = "the Firestore profile store (CHAT_STORE=firestore)"
_RESERVED_ID = re.compile(r"^__.*__$")  # Firestore reserves such document ids
_GET_ALL_CHUNK = 100
_TAKEN = object()  # a transaction's answer: this candidate handle is someone else's


def handle_key(handle: str) -> str | None:
    """The ``handles/{id}`` a handle is kept under (lower case), or None if no stored handle can match."""
    key = handle.strip().lower()
    if not people.HANDLE.fullmatch(key) or _RESERVED_ID.match(key):
        return None
    return key


def _joined(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ProfileError("a profile has no joined timestamp")
    return plain_utc(value)


def _profile(snap: Any) -> Profile:
    data = snap.to_dict() or {}
    try:
        return Profile(
            snap.id, data["handle"], data["display_name"], data["colour"], data["time_zone"], _joined(data["joined"])
        )
    except KeyError as exc:
        raise ProfileError(f"profile {snap.id} lacks {exc}") from None


class FirestoreProfiles(FirestoreComponent):
    KIND = "profiles"
    WHAT = WHAT
    ERROR = ProfileError
    NOT_OPEN = "the profile store is not open"
    PASSES = (HandleTaken, ProfileError)
    ALSO_FAILS = (ValueError,)  # a transaction that kept meeting contention past its attempts

    def call_limit(self) -> float:
        return self.timeout * 3  # a transaction may be a few round trips

    def _user(self, uid: str) -> Any:
        if not uid or "/" in uid or _RESERVED_ID.match(uid):
            raise ProfileError(f"not a usable uid for Firestore: {uid[:40]!r}")
        return self.client.collection("users").document(uid)

    def _handle(self, key: str) -> Any:
        return self.client.collection("handles").document(key)

    async def get(self, uid: str) -> Profile | None:
        snap = await self._call("read a profile", self._user(uid).get(timeout=self.timeout))
        return _profile(snap) if snap.exists else None

    async def get_many(self, uids: Iterable[str]) -> dict[str, Profile]:
        refs = [self._user(uid) for uid in dict.fromkeys(uids)]
        found: dict[str, Profile] = {}

        async def read(chunk: list[Any]) -> None:
            async for snap in self.client.get_all(chunk, timeout=self.timeout):
                if snap.exists:
                    found[snap.id] = _profile(snap)

        for start in range(0, len(refs), _GET_ALL_CHUNK):
            await self._call("read profiles", read(refs[start : start + _GET_ALL_CHUNK]))
        return found

    async def by_handle(self, handle: str) -> Profile | None:
        key = handle_key(handle)
        if key is None:
            return None
        snap = await self._call("read a handle", self._handle(key).get(timeout=self.timeout))
        uid = (snap.to_dict() or {}).get("uid") if snap.exists else None
        return await self.get(uid) if isinstance(uid, str) else None

    async def ensure(self, uid: str, display_name: str) -> Profile:
        existing = await self.get(uid)
        if existing is not None:
            return existing
        user = self._user(uid)
        fields = {
            "display_name": display_name,
            "colour": people.default_colour(uid),
            "time_zone": people.DEFAULT_TIME_ZONE,
            "joined": SERVER_TIMESTAMP,
        }

        @async_transactional
        async def claim(transaction: AsyncTransaction, handle: str) -> object:
            """Take ``handle`` and make the profile in one step; ``_TAKEN`` if the handle is someone else's."""
            if (await user.get(transaction=transaction)).exists:
                return None  # another request made it meanwhile
            index = self._handle(handle)
            if (await index.get(transaction=transaction)).exists:
                return _TAKEN
            transaction.create(index, {"uid": uid})
            transaction.create(user, {**fields, "handle": handle})
            return None

        for handle in people.handle_candidates(display_name):
            key = handle_key(handle)
            if key is None:
                continue
            try:
                taken = await self._call("save a profile", claim(self.client.transaction(), key))
            except ProfileError as exc:
                if not isinstance(exc.__cause__, api_errors.AlreadyExists):
                    raise
                taken = _TAKEN  # created by someone else between our read and our commit
            if taken is _TAKEN:
                made = await self.get(uid)  # or the candidate was taken by our own other request
                if made is not None:
                    return made
                continue
            made = await self.get(uid)
            if made is not None:
                return made
        raise ProfileError(f"no free handle for {display_name!r}")

    async def update(self, uid: str, changes: ProfileChanges) -> Profile:
        user = self._user(uid)
        given = changes.given()
        handle = changes.handle
        new_key = None
        if handle is not None:
            new_key = handle_key(handle)
            if new_key is None:
                raise HandleTaken(handle)  # no one may hold it (not a storable handle)

        @async_transactional
        async def change(transaction: AsyncTransaction) -> None:
            snap = await user.get(transaction=transaction)
            if not snap.exists:
                raise ProfileError(f"no profile for uid {uid!r}")
            old_key = handle_key(str((snap.to_dict() or {}).get("handle", "")))
            if new_key is not None and new_key != old_key:
                index = self._handle(new_key)
                owner = await index.get(transaction=transaction)
                if owner.exists and (owner.to_dict() or {}).get("uid") != uid:
                    raise HandleTaken(handle)
                transaction.set(index, {"uid": uid})
                if old_key is not None:
                    transaction.delete(self._handle(old_key))
            transaction.update(user, given)

        if given:
            await self._call("save a profile", change(self.client.transaction()))
        profile = await self.get(uid)
        if profile is None:
            raise ProfileError(f"no profile for uid {uid!r}")
        return profile
