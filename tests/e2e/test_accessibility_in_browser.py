"""axe-core on every kind of page, in a real browser, on both stacks: zero violations of any impact.

The pages: log-in and sign-up (with an error shown too), a room with rows from two people (desktop,
and a phone's viewport with touch), the room signed out (the closing frame's swaps), older history
without htmx, settings, a profile card, the room directory and an error page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import PASSWORD, expect_live, say, sign_up
from tests.support.a11y import violations, with_axe
from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, collect_rows
from tests.support.http_user import say as say_on
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                         "device_scale_factor": 3}


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> ChatServer:
    """Short history pages, so the room has a "Load older" link and a history page to check."""
    srv = start_server(tmp_path / "data", backend, CHAT_HISTORY_PAGE_SIZE="5")
    yield srv  # type: ignore[misc]
    srv.kill()


async def no_violations(page: Page, what: str) -> None:
    found = await violations(page)
    assert found == [], f"axe on {what} ({page.url}):\n" + "\n".join(found)


async def test_every_page_passes_axe_on_desktop_and_phone(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    bob = await RemoteUser(server.base, "bob@example.com").sign_up()
    async with bob.socket() as ws:
        await ws.recv()
        for i in range(7):
            await say_on(ws, f"Bob's line {i}, with @ada and https://example.com")
        await collect_rows(ws, 7)

    desktop = await with_axe(await browser.new_context(viewport={"width": 1280, "height": 440}))  # short: it scrolls
    page = console.watch(await desktop.new_page(), "ada")
    await page.goto(server.base + "/login")
    await no_violations(page, "log-in")
    await page.fill("input[name=email]", "nobody@example.com")
    await page.fill("input[name=password]", "wrong password")
    await page.click("button[type=submit]")
    await expect(page.locator(".error").first).not_to_be_empty()
    await no_violations(page, "log-in with an error")
    await page.goto(server.base + "/signup")
    await no_violations(page, "sign-up")

    await sign_up(page, server.base, "ada@example.com")
    await say(page, "Ada here")
    await expect(page.locator("#messages .msg")).to_have_count(6)
    await no_violations(page, "a room (desktop)")
    history = await page.locator("#older a").get_attribute("href")
    await page.locator("#older a").click()  # older rows above the log
    await expect(page.locator("#older-rows .msg")).to_have_count(2)
    await page.locator(".scroller").evaluate("e => { e.scrollTop = -100000; }")  # the jump link shows
    await expect(page.locator("#jump")).to_be_visible()
    await no_violations(page, "a room scrolled up, after Load older")

    await page.goto(server.base + str(history))
    await expect(page.get_by_role("heading", name="#general: older messages")).to_be_visible()
    await no_violations(page, "older history (no htmx)")
    for path, what in (("/settings", "settings"), ("/people/bob", "a profile card"), ("/rooms", "the directory"),
                       ("/no/such/page", "an error page")):
        await page.goto(server.base + path)
        await no_violations(page, what)

    phone = console.watch(await (await with_axe(await browser.new_context(**PHONE))).new_page(), "ada's phone")
    await phone.goto(server.base + "/login")
    await no_violations(phone, "log-in (phone)")
    await phone.fill("input[name=email]", "ada@example.com")
    await phone.fill("input[name=password]", PASSWORD)
    await phone.click("button[type=submit]")
    await phone.wait_for_url("**/rooms/general")
    await expect_live(phone)
    await no_violations(phone, "a room (phone)")
    await phone.goto(server.base + "/rooms")
    await no_violations(phone, "the directory (phone)")

    # Signed out in another tab: the room page after its closing frame.
    await phone.goto(server.base + "/rooms/general")
    await expect_live(phone)
    other_tab = await phone.context.new_page()
    await other_tab.goto(server.base + "/rooms/general")
    await other_tab.get_by_role("button", name="Log out").click()
    await expect(phone.locator("#live-note")).to_contain_text("You are signed out.", timeout=10_000)
    await no_violations(phone, "a room signed out (phone)")
    await bob.close()
    expected = ("status of 401", "status of 404")  # the wrong password, the error page
    assert [e for e in console.errors if not any(x in e for x in expected)] == [], "\n".join(console.errors)
