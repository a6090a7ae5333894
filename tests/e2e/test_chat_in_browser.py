"""Two people in two browsers: sign up, chat both ways, survive a cut connection."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse"


async def sign_up(page: Page, base: str, email: str) -> None:
    await page.goto(base + "/signup")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")
    await expect_live(page)


async def expect_live(page: Page) -> None:
    """The badge says Live (the 'Reconnecting…' text beside it stays hidden)."""
    await expect(page.locator("#live-status .ok")).to_be_visible(timeout=10_000)
    await expect(page.locator("#live-status .ok")).to_have_text("Live")
    await expect(page.locator("#live-status .stale")).to_be_hidden()


async def say(page: Page, text: str) -> None:
    await page.fill("#message", text)
    # The Send button (Enter in the field sends too: tests/e2e/test_enter_sends_in_browser.py).
    await page.click("#composer button[type=submit]")
    await expect(page.locator("#message")).to_have_value("", timeout=5_000)  # composer comes back empty


def row(page: Page, text: str):
    return page.locator("#messages .msg .text", has_text=text)


class CuttableSocket:
    """Routes a page's WebSockets through Playwright so the test can cut them like a network would."""

    def __init__(self) -> None:
        self.current: WebSocketRoute | None = None
        self.offline = False
        self.held: list[WebSocketRoute] = []
        self.connections = 0

    async def handle(self, route: WebSocketRoute) -> None:
        if self.offline:
            self.held.append(route)  # never reaches the server: the page hears nothing
            return
        self.connections += 1
        self.current = route
        route.connect_to_server()

    async def cut(self) -> None:
        self.offline = True
        assert self.current is not None
        await self.current.close(code=1001, reason="network cut by the test")

    async def restore(self) -> None:
        self.offline = False
        for route in self.held:
            await route.close(code=1001, reason="network back")
        self.held.clear()


async def test_two_users_chat_live_and_a_cut_page_catches_up_once(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ada = console.watch(await (await browser.new_context()).new_page(), "ada")
    bob = console.watch(await (await browser.new_context()).new_page(), "bob")
    network = CuttableSocket()
    await bob.route_web_socket("**/rooms/*/ws*", network.handle)

    await sign_up(ada, server.base, "ada@example.com")
    await sign_up(bob, server.base, "bob@example.com")
    await expect(ada.locator("#whoami")).to_have_text("ada")  # the display name (from the email), never the email

    # Both ways, without reloading.
    await say(ada, "Hello, world!")
    await expect(row(bob, "Hello, world!")).to_have_count(1)
    await say(bob, "Hi Ada")
    await expect(row(ada, "Hi Ada")).to_have_count(1)
    first_row = ada.locator("#messages .msg").first
    utc_iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    await expect(first_row.locator("time")).to_have_attribute("datetime", utc_iso)
    await expect(first_row.locator(".author")).to_have_text("ada")  # a name, never the email
    await expect(first_row).not_to_contain_text("@example.com")

    # Markup is text, never markup.
    payload = '<img src=x id="pwned"><script>window.pwned=1</script><b>bold?</b>'
    await say(ada, payload)
    await expect(row(bob, "<b>bold?</b>")).to_have_count(1)
    assert await bob.locator("#pwned").count() == 0 and await bob.locator("#messages b").count() == 0
    assert await bob.evaluate("typeof window.pwned") == "undefined"

    # The user's own messages look different from others'.
    mine = ada.locator("#messages .msg", has_text="Hello, world!")
    theirs = ada.locator("#messages .msg", has_text="Hi Ada")
    mine_bg = await mine.evaluate("e => getComputedStyle(e).backgroundColor")
    theirs_bg = await theirs.evaluate("e => getComputedStyle(e).backgroundColor")
    assert mine_bg != theirs_bg

    # caret="initial": Playwright would otherwise inject an inline <style>, which our CSP (rightly) blocks.
    await ada.screenshot(path=str(ARTIFACTS / "chat-ada.png"), caret="initial", animations="allow")

    # Cut Bob's connection; Ada keeps talking; Bob's page shows it is not live.
    await network.cut()
    missed = [f"while you were away {i}" for i in range(3)]
    for text in missed:
        await say(ada, text)
    stale = bob.locator("#live-status .stale")
    await expect(stale).to_be_visible(timeout=20_000)
    await expect(stale).to_have_text("Reconnecting…")
    await expect(bob.locator("#live-status .ok")).to_be_hidden()
    await bob.screenshot(path=str(ARTIFACTS / "chat-reconnecting.png"), caret="initial", animations="allow")
    for text in missed:
        assert await row(bob, text).count() == 0

    # The network comes back: Bob's page reconnects by itself and shows what it missed, once.
    await network.restore()
    for text in missed:
        await expect(row(bob, text)).to_have_count(1, timeout=15_000)
    await expect_live(bob)
    assert network.connections >= 2
    await say(bob, "back again")
    await expect(row(ada, "back again")).to_have_count(1)
    # Bob's own row comes back on his socket after all the reconnect sent, so once it is shown, a
    # duplicate from the resend would be too.
    await expect(row(bob, "back again")).to_have_count(1)
    assert await row(bob, "Hello, world!").count() == 1  # nothing duplicated by the resend
    bob_texts = await bob.locator("#messages .msg .text").all_inner_texts()
    ada_texts = await ada.locator("#messages .msg .text").all_inner_texts()
    assert bob_texts == ada_texts  # the same order everywhere
    await bob.screenshot(path=str(ARTIFACTS / "chat-bob.png"), caret="initial", animations="allow")

    # A reload shows the same history.
    await bob.reload()
    await expect(bob.locator("#messages .msg")).to_have_count(len(ada_texts))
    assert console.errors == [], "\n".join(console.errors)
