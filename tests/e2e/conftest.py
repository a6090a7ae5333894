"""A real Chromium (Debian's, driven by Playwright) against a real server."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.support.backends import start_server
from tests.support.server import ChatServer
from tests.support.tools import missing

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        missing("Debian's chromium is not installed (apt-get install chromium)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield b
        await b.close()


class ConsoleWatch:
    """Collects console errors and page errors from every page it watches."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page, who: str) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type in ("error", "warning"):
                self.errors.append(f"{who} console {msg.type}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"{who} page error: {exc}"))
        return page


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()
