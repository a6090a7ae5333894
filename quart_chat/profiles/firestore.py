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
As with the message store, the async client binds to the loop it is first used on, so it is made
in :meth:`open` and closed in :meth:`close`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import Any

import firebase_admin
import google.auth.exceptions
from firebase_admin import firestore_async
from google.api_core import exceptions as api_errors
from google.cloud.firestore import SERVER_TIMESTAMP, AsyncClient, AsyncTransaction, async_transactional

from quart_chat import firebase_app, people
from quart_chat.models import Profile
from quart_chat.profiles import HandleTaken, ProfileError
from quart_chat.settings import Settings

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


def _plain_utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise ProfileError("a profile has no joined timestamp")
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, tzinfo=UTC
    )


def _profile(snap: Any) -> Profile:
    data = snap.to_dict() or {}
    try:
        return Profile(
            snap.id, data["handle"], data["display_name"], data["colour"], data["time_zone"], _plain_utc(data["joined"])
        )
    except KeyError as exc:
        raise ProfileError(f"profile {snap.id} lacks {exc}") from None


class FirestoreProfiles:
    def __init__(
        self,
        *,
        project_id: str | None,
        credentials_path: str | None,
        credentials_json: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Check the configuration now, so a bad one stops start-up with one sentence."""
        self.project_id = firebase_app.check_project_id(project_id, WHAT)
        self._credential = firebase_app.credential_for(
            firebase_app.FIRESTORE_EMULATOR_VAR, credentials_path, WHAT, credentials_json
        )
        self.timeout = timeout
        self._app: firebase_admin.App | None = None
        self._client: AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FirestoreProfiles:
        return cls(**firebase_app.admin_options(settings))

    async def open(self) -> None:
        self._app = firebase_app.new_app("profiles", self._credential, self.project_id, self.timeout)
        self._client = firestore_async.client(app=self._app)

    async def close(self) -> None:
        client, self._client = self._client, None
        api = getattr(client, "_firestore_api_internal", None)  # the gRPC channel, if it was ever made
        if api is not None:
            await api.transport.close()
        firebase_app.delete_app(self._app)
        self._app = None

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise ProfileError("the profile store is not open")
        return self._client

    def _user(self, uid: str) -> Any:
        if not uid or "/" in uid or _RESERVED_ID.match(uid):
            raise ProfileError(f"not a usable uid for Firestore: {uid[:40]!r}")
        return self.client.collection("users").document(uid)

    def _handle(self, key: str) -> Any:
        return self.client.collection("handles").document(key)

    async def _call[T](self, what: str, call: Awaitable[T]) -> T:
        """Await a Firestore call within the time limit; every failure becomes ProfileError."""
        try:
            async with asyncio.timeout(self.timeout * 3):  # a transaction may be a few round trips
                return await call
        except (HandleTaken, ProfileError):
            raise
        except (
            api_errors.GoogleAPIError,
            google.auth.exceptions.GoogleAuthError,
            TimeoutError,
            OSError,
            ValueError,  # a transaction that kept meeting contention past its attempts
        ) as exc:
            raise ProfileError(f"could not {what}: {type(exc).__name__}: {exc}") from exc

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

    async def update(
        self,
        uid: str,
        *,
        display_name: str | None = None,
        handle: str | None = None,
        colour: str | None = None,
        time_zone: str | None = None,
    ) -> Profile:
        user = self._user(uid)
        changes = {"display_name": display_name, "handle": handle, "colour": colour, "time_zone": time_zone}
        given = {k: v for k, v in changes.items() if v is not None}
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
