"""Fixtures that read like a story: an app on a temp data folder, a browser-like client, a user."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from quart import Quart
from quart.testing import QuartClient

from quart_chat.app import create_app
from quart_chat.settings import Settings
from tests.support.backends import BACKENDS, backend_env
from tests.support.emulators import auth_emulator, auth_env, firestore_emulator, firestore_env
from tests.support.tools import in_ci
from tests.support.ws import RecordingWebsocket

__all__ = ["auth_emulator", "auth_env", "firestore_emulator", "firestore_env"]  # shared, session-wide

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ORIGIN = "http://localhost"


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
    page = await (await client.get(path)).get_data(as_text=True)
    match = CSRF.search(page)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


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
