"""Who is here and who is typing, in two browsers: a tab opening and closing, typing shown and cleared."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.e2e.test_chat_in_browser import say, sign_up
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e


async def test_presence_follows_a_tab_and_typing_shows_to_the_others(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ada = console.watch(await (await browser.new_context()).new_page(), "ada")
    await sign_up(ada, server.base, "ada@example.com")
    here = ada.locator("#presence a")
    await expect(here).to_have_text(["ada"])
    await expect(ada.locator("#presence")).to_have_attribute("aria-labelledby", "presence-title")

    bob_context = await browser.new_context()
    bob = console.watch(await bob_context.new_page(), "bob")
    await sign_up(bob, server.base, "bob@example.com")
    await expect(here).to_have_text(["ada", "bob"])  # bob's tab opened: live, no reload
    await expect(ada.locator('#presence a[href="/people/bob"]')).to_have_count(1)
    await expect(bob.locator("#presence a")).to_have_text(["ada", "bob"])

    # bob types: ada sees it; bob does not see his own name.
    await bob.locator("#message").press_sequentially("Hello Ad", delay=50)
    await expect(ada.locator("#typing")).to_have_text("bob is typing…")
    await expect(ada.locator("#typing")).to_have_attribute("aria-live", "polite")
    await expect(bob.locator("#typing .typist")).to_have_count(1)
    await expect(bob.locator("#typing .typist")).to_be_hidden()
    await ada.screenshot(path=str(ARTIFACTS / "presence-typing.png"), caret="initial", animations="allow")
    await say(bob, "Hello Ada")
    await expect(ada.locator("#messages .msg .text", has_text="Hello Ada")).to_have_count(1)
    await expect(ada.locator("#typing .typist")).to_have_count(0)  # gone as soon as he sent

    # bob's tab closes: he is gone from ada's list.
    await bob_context.close()
    await expect(here).to_have_text(["ada"], timeout=10_000)
    assert console.errors == []
