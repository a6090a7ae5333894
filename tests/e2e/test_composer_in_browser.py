"""Composing in a real Chromium, on both stacks: lines kept, long text refused (never cut), links,
the rate-limit notice, and the view brought to the newest row after one's own send."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import row, say, sign_up
from tests.support.backends import start_server
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

SEND = "#composer button[type=submit]"
NOTICE = "#composer-error"


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    """A server whose message burst is small, so a burst of sends meets the limit at once."""
    srv = start_server(tmp_path / "data", backend, CHAT_MESSAGE_BURST="6", CHAT_MESSAGES_PER_MINUTE="6")
    yield srv
    srv.kill()


async def shown_text(page: Page, text: str) -> str:
    """A row's text as drawn (innerText follows CSS: without pre-wrap its line breaks would be spaces)."""
    return await row(page, text).inner_text()


async def sent(page: Page) -> None:
    """Click Send and wait for the composer to come back (empty, or with a refused text kept):
    each composer the server renders has a fresh one-time client_id."""
    old = await page.locator("#composer input[name=client_id]").input_value()
    await page.click(SEND)
    await expect(page.locator("#composer input[name=client_id]")).not_to_have_value(old)


async def test_lines_long_text_links_and_bursts(browser: Browser, server: ChatServer, console: ConsoleWatch) -> None:
    page = console.watch(await (await browser.new_context()).new_page(), "ada")
    await sign_up(page, server.base, "ada@example.com")
    box = page.locator("#message")

    # Shift+Enter adds a line in the composer (Enter sends: tests/e2e/test_enter_sends_in_browser.py).
    await box.press_sequentially("first")
    await box.press("Shift+Enter")
    await box.press_sequentially("second")
    await box.press("Shift+Enter")
    await box.press_sequentially("third")
    await expect(box).to_have_value("first\nsecond\nthird")
    await sent(page)
    await expect(box).to_have_value("")
    await expect(row(page, "third")).to_have_count(1)
    assert await shown_text(page, "third") == "first\nsecond\nthird"

    # Three pasted lines stay three lines (insertText is what a paste does to the field).
    await box.focus()
    await page.keyboard.insert_text("pasted one\npasted two\npasted three")
    await sent(page)
    await expect(row(page, "pasted three")).to_have_count(1)
    assert await shown_text(page, "pasted three") == "pasted one\npasted two\npasted three"

    # A 2,500-character paste is refused with a sentence beside the composer, and kept whole.
    long = ("0123456789" * 250)[:2500]
    await box.focus()
    await page.keyboard.insert_text(long)
    await sent(page)
    notice = page.locator(NOTICE)
    await expect(notice).to_contain_text("2500 characters, the limit is 2000")
    await expect(notice).to_have_attribute("role", "alert")
    await expect(notice).to_be_visible()
    await expect(box).to_have_value(long)
    await expect(row(page, "0123456789")).to_have_count(0)

    # A web address is a link that opens apart; javascript: stays text.
    await say(page, "see https://example.com/a?b=1 or javascript:alert(1)")
    links = row(page, "see https://example.com").locator("a")
    await expect(links).to_have_count(1)
    await expect(links).to_have_attribute("href", "https://example.com/a?b=1")
    await expect(links).to_have_attribute("rel", "noopener noreferrer nofollow ugc")
    await expect(links).to_have_attribute("target", "_blank")

    # A burst past the limit: the notice is beside the composer, announced, and the text stays.
    for i in range(10):
        await box.fill(f"burst {i}")
        await sent(page)
        if "too fast" in await notice.inner_text():
            break
    await expect(notice).to_contain_text("You are sending too fast")
    await expect(box).to_have_value(f"burst {i}")
    await expect(row(page, f"burst {i}")).to_have_count(0)
    assert console.errors == []


async def test_own_send_brings_the_view_to_the_newest_row(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    page = console.watch(await (await browser.new_context()).new_page(), "ada")
    await page.set_viewport_size({"width": 800, "height": 500})
    await sign_up(page, server.base, "ada@example.com")
    tall = "\n".join(f"line {n}" for n in range(30))
    for i in range(3):
        await say(page, f"tall {i}\n{tall}")
    await row(page, "tall 0").scroll_into_view_if_needed()  # reading the oldest, far above the newest
    await expect(row(page, "tall 2")).not_to_be_in_viewport()
    await say(page, "mine, at the bottom")
    await expect(row(page, "mine, at the bottom")).to_be_in_viewport()
    assert console.errors == []
