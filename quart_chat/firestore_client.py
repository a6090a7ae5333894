"""What the Firestore message store and profile store share: a named App, its async client, one way to fail.

Each component gets its own named firebase-admin App (see :mod:`quart_chat.firebase_app`) and
its own async client. The client binds to the event loop it is first used on, so it is made in
:meth:`FirestoreComponent.open` (on the serving loop) and closed in :meth:`close`. Every call
goes through :meth:`FirestoreComponent._call`, which bounds it in time and turns each way Google's
libraries fail into the component's own error, so callers see one exception type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import ClassVar, Self

import firebase_admin
import google.auth.exceptions
from firebase_admin import firestore_async
from google.api_core import exceptions as api_errors
from google.cloud.firestore import AsyncClient

from quart_chat import firebase_app
from quart_chat.settings import Settings

# What a Firestore call may raise when it fails: the API, the credential, the time limit, the network.
GOOGLE_FAILURES: tuple[type[Exception], ...] = (
    api_errors.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    TimeoutError,
    OSError,
)


def plain_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC (the client returns DatetimeWithNanoseconds)."""
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond, tzinfo=UTC
    )


class FirestoreComponent:
    """A component kept in Firestore. Subclasses say what they are and how they fail:

    - ``KIND`` names their App; ``WHAT`` is the sentence a configuration error names them by.
    - ``ERROR`` is what every failure becomes; ``NOT_OPEN`` its message when used while closed.
    - ``PASSES``: exceptions :meth:`_call` lets through as they are (the caller handles them);
      ``ALSO_FAILS``: more exceptions, beside :data:`GOOGLE_FAILURES`, that become ``ERROR``.
    - :meth:`call_limit`: how long one :meth:`_call` may take, in seconds.
    """

    KIND: ClassVar[str]
    WHAT: ClassVar[str]
    ERROR: ClassVar[type[Exception]]
    NOT_OPEN: ClassVar[str]
    PASSES: ClassVar[tuple[type[Exception], ...]] = ()
    ALSO_FAILS: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(
        self,
        *,
        project_id: str | None,
        credentials_path: str | None,
        credentials_json: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Check the configuration now, so a bad one stops start-up with one sentence."""
        self.project_id = firebase_app.check_project_id(project_id, self.WHAT)
        self._credential = firebase_app.credential_for(
            firebase_app.FIRESTORE_EMULATOR_VAR, credentials_path, self.WHAT, credentials_json
        )
        self.timeout = timeout
        self._app: firebase_admin.App | None = None
        self._client: AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(**firebase_app.admin_options(settings))

    async def open(self) -> None:
        self._app = firebase_app.new_app(self.KIND, self._credential, self.project_id, self.timeout)
        self._client = firestore_async.client(app=self._app)

    async def close(self) -> None:
        client, self._client = self._client, None
        # The gRPC channel is only made on first use; close it if it was (the client has no close()).
        api = getattr(client, "_firestore_api_internal", None)
        if api is not None:
            await api.transport.close()
        firebase_app.delete_app(self._app)
        self._app = None

    @property
    def client(self) -> AsyncClient:
        if self._client is None:
            raise self.ERROR(self.NOT_OPEN)
        return self._client

    def call_limit(self) -> float:
        """Seconds one :meth:`_call` may take: a little over the client's own timeout."""
        return self.timeout + 1

    async def _call[T](self, what: str, call: Awaitable[T]) -> T:
        """Await a Firestore call within :meth:`call_limit`; every failure becomes ``ERROR``."""
        try:
            async with asyncio.timeout(self.call_limit()):
                return await call
        except self.PASSES:
            raise
        except GOOGLE_FAILURES + self.ALSO_FAILS as exc:
            raise self.ERROR(f"could not {what}: {type(exc).__name__}: {exc}") from exc
