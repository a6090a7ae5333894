"""Reading a room in a real browser, on both stacks: the jump to the newest, sign-out in another tab,
JavaScript off, what a screen reader hears (the log, the status, "Load older"), and the error pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import PASSWORD, expect_live, row, say, sign_up
from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, collect_rows
from tests.support.http_user import say as say_on
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

PAGE_SIZE = 20  # a short history page, so "Load older" appears after a few rows
SEEDED = 45  # rows enough to scroll, and three pages of history


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    """A server whose writers may send a burst, with short history pages and fast heartbeats."""
    srv = start_server(
        tmp_path / "data",
        backend,
        CHAT_MESSAGE_BURST="100",
        CHAT_FRAMES_PER_MINUTE="6000",
        CHAT_HISTORY_PAGE_SIZE=str(PAGE_SIZE),
        CHAT_HEARTBEAT_INTERVAL="0.5",
    )
    yield srv
    srv.kill()


async def seed(base: str, count: int = SEEDED) -> RemoteUser:
    """``count`` rows "old 00".. in #general from a writer over the socket; the writer stays signed in."""
    writer = await RemoteUser(base, "writer@example.com").sign_up()
    async with writer.socket() as ws:
        await ws.recv()
        for i in range(count):
            await say_on(ws, f"old {i:02d}")
        await collect_rows(ws, count)
    return writer


async def scroll_offset(page: Page) -> float:
    """How far the message list is scrolled up from the newest row (column-reverse: 0 at the bottom)."""
    return await page.locator(".scroller").evaluate("e => -e.scrollTop")


async def test_scrolled_up_new_messages_are_marked_and_one_link_jumps_to_the_newest(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    writer = await seed(server.base)
    context = await browser.new_context(viewport={"width": 1100, "height": 600})
    page = console.watch(await context.new_page(), "reader")
    await sign_up(page, server.base, "reader@example.com")
    jump = page.locator("#jump")
    await expect(jump).to_be_hidden()  # at the bottom: nothing to jump to

    # At the bottom, a new row keeps the newest in view (as before).
    async with writer.socket() as ws:
        await ws.recv()
        await say_on(ws, "while at the bottom")
        await expect(row(page, "while at the bottom")).to_be_in_viewport()
        assert await scroll_offset(page) < 2
        await expect(jump).to_be_hidden()

        # Scrolled up: the link appears; a new row marks it "New messages" and does not move the reader.
        scroller = page.locator(".scroller")
        await scroller.evaluate("e => { e.scrollTop = -200; }")
        await expect(jump).to_be_visible()
        # The row above came while at the bottom: seen, so not "new".
        await expect(jump).to_have_text("Jump to the newest ↓", use_inner_text=True)
        await say_on(ws, "while scrolled up")
        await expect(jump).to_have_text("New messages ↓", use_inner_text=True)
        await expect(row(page, "while scrolled up")).not_to_be_in_viewport()
        assert await scroll_offset(page) > 150  # the reader was not moved

        # Been at the bottom since: no longer "new".
        await scroller.evaluate("e => { e.scrollTop = 0; }")
        await expect(jump).to_be_hidden()
        await scroller.evaluate("e => { e.scrollTop = -200; }")
        await expect(jump).to_have_text("Jump to the newest ↓", use_inner_text=True)

        await say_on(ws, "while scrolled up again")
        await expect(jump).to_have_text("New messages ↓", use_inner_text=True)
        await jump.click()  # a plain link to #newest: it works with htmx or without
        await expect(row(page, "while scrolled up again")).to_be_in_viewport()
        await expect(jump).to_be_hidden()
        await expect(page.locator("#newest")).to_be_focused()  # the keyboard goes on from the newest row
        assert await scroll_offset(page) < 2
    await writer.close()
    assert console.errors == [], "\n".join(console.errors)


async def test_signed_out_in_another_tab_the_page_says_so_once_and_stops_claiming_a_session(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    context = await browser.new_context()
    page = console.watch(await context.new_page(), "first tab")
    await sign_up(page, server.base, "ada@example.com")
    await expect(page.locator("#account")).to_contain_text("Signed in as")
    other = console.watch(await context.new_page(), "second tab")
    await other.goto(server.base + "/rooms/general")
    await expect_live(other)
    await other.get_by_role("button", name="Log out").click()
    await other.wait_for_url("**/login**")

    note = page.locator("#live-note")
    await expect(note).to_have_text("You are signed out. Log in again", timeout=10_000)
    await expect(page.get_by_text("You are signed out.")).to_have_count(1)
    await expect(page.get_by_role("link", name="Log in again")).to_have_count(1)
    await expect(page.locator("#live-status")).to_have_text("")  # the badge is empty: nothing drawn over it
    await expect(page.locator("#message")).to_be_disabled()
    await expect(page.get_by_role("button", name="Send")).to_be_disabled()
    await expect(page.locator("#account")).to_have_text("Signed out")
    await expect(page.get_by_text("Signed in as")).to_have_count(0)
    await expect(page.get_by_role("button", name="Log out")).to_have_count(0)

    await page.get_by_role("link", name="Log in again").click()
    await page.wait_for_url("**/login?next=**")
    await page.fill("input[name=email]", "ada@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")
    await expect_live(page)
    assert console.errors == [], "\n".join(console.errors)


async def test_without_javascript_the_room_says_it_updates_on_reload(
    browser: Browser, server: ChatServer
) -> None:
    page = await (await browser.new_context(java_script_enabled=False)).new_page()
    await page.goto(server.base + "/signup")
    await page.fill("input[name=email]", "ada@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")
    await expect(page.get_by_text("Updates when you reload the page.")).to_be_visible()
    await expect(page.get_by_text("Connecting…")).to_be_hidden()
    await expect(page.locator("#jump")).to_be_hidden()


WATCH_NOTE = """() => {
  window.noteChanges = 0;
  const note = document.getElementById('live-note');
  new MutationObserver(r => { window.noteChanges += r.length; })
    .observe(note, {childList: true, subtree: true, characterData: true, attributes: true});
  window.noteElement = note;
}"""


async def test_a_screen_reader_hears_new_rows_and_changes_not_heartbeats_nor_older_pages(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    writer = await seed(server.base)
    page = console.watch(await (await browser.new_context()).new_page(), "reader")
    await sign_up(page, server.base, "reader@example.com")

    log = page.get_by_role("log", name="#general: messages")
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(log.locator(".msg")).to_have_count(PAGE_SIZE)
    await expect(page.get_by_role("status").filter(has_text="Live")).to_have_count(1)  # said once, on connect
    await expect(page.locator("#live-status")).to_have_attribute("aria-hidden", "true")

    # Heartbeats (every 0.5 s here) refresh the badge, never the announced note.
    await page.evaluate(WATCH_NOTE)
    for _ in range(2):  # two heartbeats: the badge is replaced each time
        badge = await page.locator("#live-status").element_handle()
        await page.wait_for_function("badge => !badge.isConnected", arg=badge, timeout=5_000)
    assert await page.evaluate("window.noteChanges") == 0
    assert await page.evaluate("window.noteElement === document.getElementById('live-note')")

    # "Load older": the rows go above the log, outside it, and the keyboard focus stays on the link.
    older = page.get_by_role("link", name="Load older messages")
    await older.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#older-rows .msg")).to_have_count(PAGE_SIZE)
    await expect(log.locator(".msg")).to_have_count(PAGE_SIZE)
    await expect(page.get_by_role("link", name="Load older messages")).to_be_focused()
    await page.keyboard.press("Enter")  # the keyboard goes on paging from where it was
    await expect(page.locator("#older-rows .msg")).to_have_count(SEEDED - PAGE_SIZE)
    await expect(page.locator(".beginning")).to_be_focused()  # the last page: the beginning takes it
    texts = await page.locator(".scroller .msg .text").all_inner_texts()
    assert texts == [f"old {i:02d}" for i in range(SEEDED)]

    # A new row lands in the log (announced); the scroller itself is reachable by keyboard.
    async with writer.socket() as ws:
        await ws.recv()
        await say_on(ws, "a new one")
        await expect(log.locator(".msg .text").last).to_have_text("a new one")
    await writer.close()
    scroller = page.get_by_role("region", name="Messages in #general")
    await expect(scroller).to_have_attribute("tabindex", "0")
    await say(page, "mine")  # the composer still works after all that
    await expect(log.locator(".msg .text").last).to_have_text("mine")
    assert console.errors == [], "\n".join(console.errors)


async def test_error_pages_are_the_apps_own_and_room_addresses_are_normalised(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    page = console.watch(await (await browser.new_context()).new_page(), "ada")
    await sign_up(page, server.base, "ada@example.com")
    await page.goto(server.base + "/rooms/Design")
    await page.wait_for_url("**/rooms/design")
    await expect(page.locator(".chat-head h1")).to_have_text("#design")
    await page.goto(server.base + "/rooms/%23Design%20Team")
    await page.wait_for_url("**/rooms/design-team")

    for path in ("/no/such/page", "/rooms/%21%21%21"):
        response = await page.goto(server.base + path)
        assert response is not None and response.status == 404
        card = page.locator("main.card")
        await expect(card.get_by_role("heading", level=1)).to_be_visible()
        radius = await card.evaluate("e => getComputedStyle(e).borderTopLeftRadius")
        assert radius == "14px"  # the app's stylesheet, not a bare page
        await expect(page.get_by_role("link", name="Back to the chat")).to_be_visible()
    await page.get_by_role("link", name="Back to the chat").click()
    await page.wait_for_url("**/rooms/general")
    assert [e for e in console.errors if "404" not in e] == [], "\n".join(console.errors)


async def test_a_page_connects_even_when_its_htmx_extension_arrives_late(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    """A second tab sometimes never connected: a deferred htmx started on a timer before hx-ws.min.js
    had run. A late hx-ws (0.5 s, as a slow network or a revalidation makes it) shows it every time."""
    context = await browser.new_context()
    page = console.watch(await context.new_page(), "ada")
    await sign_up(page, server.base, "ada@example.com")

    async def late(route: Route) -> None:
        await asyncio.sleep(0.5)
        await route.continue_()

    await page.route("**/vendor/htmx/hx-ws.min.js", late)
    await page.reload()
    await expect_live(page)
    await say(page, "still connected")
    await expect(row(page, "still connected")).to_be_visible()
    assert console.errors == [], "\n".join(console.errors)
