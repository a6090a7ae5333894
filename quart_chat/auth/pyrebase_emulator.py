"""Route pyrebase4's HTTP calls: to the Auth emulator when asked, always with a timeout.

Why this exists: pyrebase4 only knows Google's real endpoints. Its ``Auth``
methods build ``https://www.googleapis.com/identitytoolkit/v3/...`` (and
``identitytoolkit.googleapis.com`` / ``securetoken.googleapis.com``) URLs by
hand and call the module-level ``requests.post`` -- not the session it is
given, and with no timeout. So neither a base URL nor a mounted adapter on its
session can reach them.

The one contained fix: pyrebase's module global ``requests`` is replaced (once,
idempotently) by :class:`_RequestsShim`, which behaves exactly like the
``requests`` module unless a session has been bound for the current context
with :func:`bound`. :class:`FirebaseIdentity` binds its own session around each
pyrebase call. That session always carries a default timeout, and, only when
``FIREBASE_AUTH_EMULATOR_HOST`` is set (the variable firebase-admin already
honours), an :class:`EmulatorAdapter` that rewrites
``https://<google host>/<path>`` to ``http://<emulator>/<google host>/<path>``,
the layout the Auth emulator serves (it keeps the v3 ``relyingparty`` routes
pyrebase uses). Without the variable no URL is touched.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

GOOGLE_HOSTS = ("www.googleapis.com", "identitytoolkit.googleapis.com", "securetoken.googleapis.com")

_bound: contextvars.ContextVar[requests.Session | None] = contextvars.ContextVar(
    "pyrebase_session", default=None
)


class EmulatorAdapter(HTTPAdapter):
    """Sends requests for Google's identity hosts to the Auth emulator instead, over plain HTTP."""

    def __init__(self, emulator_host: str) -> None:
        super().__init__()
        self.emulator_host = emulator_host

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in GOOGLE_HOSTS:
            return url
        rest = url[len(f"https://{parts.netloc}") :]
        return f"http://{self.emulator_host}/{parts.hostname}{rest}"

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        request.url = self.rewrite(request.url or "")
        return super().send(request, *args, **kwargs)


class TimeoutSession(requests.Session):
    """A session whose requests time out unless told otherwise (pyrebase never says)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def make_session(timeout: float, emulator_host: str | None) -> requests.Session:
    """A session for pyrebase calls; routes to the emulator only when ``emulator_host`` is given."""
    session = TimeoutSession(timeout)
    if emulator_host:
        adapter = EmulatorAdapter(emulator_host)
        for host in GOOGLE_HOSTS:
            session.mount(f"https://{host}/", adapter)
    return session


class _RequestsShim(ModuleType):
    """Stands in for ``requests`` inside ``pyrebase.pyrebase``; inert unless a session is bound."""

    def __init__(self, real: ModuleType) -> None:
        super().__init__(real.__name__)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        session = _bound.get()
        if session is None:
            return self._real.request(method, url, **kwargs)
        return session.request(method, url, **kwargs)

    def get(self, url: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)


def install() -> None:
    """Put the shim in place inside pyrebase (idempotent; harmless to other users of pyrebase)."""
    import pyrebase.pyrebase as module

    if not isinstance(module.requests, _RequestsShim):
        module.requests = _RequestsShim(requests)  # type: ignore[assignment]


@contextmanager
def bound(session: requests.Session) -> Iterator[None]:
    """Make pyrebase calls in this context (thread) go through ``session``."""
    token = _bound.set(session)
    try:
        yield
    finally:
        _bound.reset(token)
