"""Fixtures that read like a story: an app on a temp data folder, a browser-like client, a user.

Also what every test shares: the emulators and a redis-server, cheap password hashing, and the
markers that tell the in-process tests from the ones that start real processes (see pyproject.toml).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from quart import Quart
from quart.testing import QuartClient

from quart_chat.app import create_app
from quart_chat.auth import local
from quart_chat.settings import Settings
from tests.support.backends import BACKENDS, FIREBASE, backend_env
from tests.support.cheap_hashing import CHEAP_PASSWORD_HASHER
from tests.support.emulators import auth_emulator, auth_env, firestore_emulator, firestore_env
from tests.support.http_user import csrf_token
from tests.support.redis_server import RedisServer, redis_server_binary
from tests.support.tools import in_ci
from tests.support.ws import RecordingWebsocket

__all__ = ["auth_emulator", "auth_env", "firestore_emulator", "firestore_env"]  # shared, session-wide

# Hypothesis: in CI a fixed seed (derandomize) and a bounded budget, so a run is reproducible and
# its time known; on a developer's machine random examples (and its example database in .hypothesis/).
# HYPOTHESIS_PROFILE picks one by name. The fuzz test scales its own budget from max_examples.
hypothesis_settings.register_profile(
    "ci", derandomize=True, max_examples=100, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))

ORIGIN = "http://localhost"
# What a test needs beyond this process, as markers; each of them also marks the test "slow".
SLOW_KINDS = ("server", "redis", "firebase", "e2e", "container")
NEEDS = {"redis_server": "redis", "auth_emulator": "firebase", "firestore_emulator": "firebase"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the processes it needs (its fixtures, its module's ``pytestmark``), and all of those slow."""
    for item in items:
        kinds = {NEEDS[name] for name in getattr(item, "fixturenames", ()) if name in NEEDS}
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == FIREBASE:
            kinds.add("firebase")  # the emulators are asked for only when this parameter runs
        for kind in kinds:
            item.add_marker(kind)
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker("slow")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """See tests/support/cheap_hashing.py."""
    monkeypatch.setattr(local, "PASSWORD_HASHER", CHEAP_PASSWORD_HASHER)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for each test (about 40 ms): tests crash it, pause it and add ACL users."""
    with RedisServer(redis_server_binary()) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    """The env a real server needs for each back-end; a test that asks for it runs on both."""
    return backend_env(request)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="test-secret-key-" + "x" * 32)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    app = create_app(settings)
    async with app.test_app():
        yield app


def make_client(app: Quart) -> QuartClient:
    client = app.test_client()
    client.websocket_connection_class = RecordingWebsocket  # type: ignore[assignment]
    return client


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return make_client(app)


async def csrf_from(client: QuartClient, path: str) -> str:
    return csrf_token(await (await client.get(path)).get_data(as_text=True), path)


@dataclass
class User:
    """A person at a browser: signs up, logs in, opens rooms."""

    client: QuartClient
    email: str
    password: str = "correct horse"

    async def sign_up(self) -> User:
        token = await csrf_from(self.client, "/signup")
        response = await self.client.post(
            "/signup", form={"email": self.email, "password": self.password, "csrf_token": token}
        )
        assert response.status_code == 303, await response.get_data(as_text=True)
        return self

    async def log_in(self) -> User:
        token = await csrf_from(self.client, "/login")
        response = await self.client.post(
            "/login", form={"email": self.email, "password": self.password, "csrf_token": token}
        )
        assert response.status_code == 303
        return self

    async def room_page(self, room: str = "general") -> str:
        response = await self.client.get(f"/rooms/{room}")
        assert response.status_code == 200
        return await response.get_data(as_text=True)

    def socket(self, room: str = "general", after: str | None = None, origin: str | None = ORIGIN):
        path = f"/rooms/{room}/ws" + (f"?after={after}" if after else "")
        headers = {"Origin": origin} if origin else {}
        return self.client.websocket(path, headers=headers)


@pytest.fixture
async def ada(app: Quart) -> User:
    return await User(make_client(app), "ada@example.com").sign_up()


@pytest.fixture
async def bob(app: Quart) -> User:
    return await User(make_client(app), "bob@example.com").sign_up()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """With CI=true a skip is a failure: CI must run everything."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"CI=true forbids skipping: {report.longrepr}"
