"""Three people in one room, in three browsers, on both stacks: names and colours, never an email;
one person's run of messages grouped; everyone here counted once; typing seen by the other two."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.e2e.test_chat_in_browser import expect_live, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

PEOPLE = (
    ("ada@example.com", "Ada Lovelace", "purple"),
    ("grace@example.com", "Grace Hopper", "teal"),
    ("alan@example.com", "Alan Turing", "orange"),
)


async def join(browser: Browser, console: ConsoleWatch, base: str, email: str, name: str, colour: str) -> Page:
    """Sign up with a display name, choose a colour in settings, open #general."""
    page = console.watch(await (await browser.new_context()).new_page(), name)
    await page.goto(base + "/signup")
    await page.fill("input[name=display_name]", name)
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", "correct horse battery")
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")
    await page.goto(base + "/settings")
    await page.check(f"input[name=colour][value={colour}]")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await page.goto(base + "/rooms/general")
    await expect_live(page)
    return page


async def test_three_people_see_names_colours_groups_presence_and_typing(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ada, grace, alan = [await join(browser, console, server.base, *who) for who in PEOPLE]
    everyone = (ada, grace, alan)
    for page in everyone:  # each person once, live, without a reload
        await expect(page.locator("#presence a")).to_have_count(3, timeout=10_000)
        for _, name, _ in PEOPLE:
            await expect(page.locator("#presence a", has_text=name)).to_have_count(1)

    await say(ada, "Has anyone read the engine notes?")
    await say(ada, "The second table has the loop.")
    await say(grace, "I have. The cards run out at step 7.")
    for page in everyone:
        rows = page.locator("#messages .msg")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(0).locator(".author")).to_have_text("Ada Lovelace")
        await expect(rows.nth(0).locator(".author")).to_have_class("author c-purple")
        await expect(rows.nth(1)).to_have_class("msg msg--cont")  # Ada's run: her name once
        await expect(rows.nth(2).locator(".author")).to_have_text("Grace Hopper")
        await expect(rows.nth(2).locator(".author")).to_have_class("author c-teal")
        assert "@example.com" not in await page.content()  # nobody's email, not even in attributes

    await alan.locator("#message").press_sequentially("Looks good to m", delay=40)
    for page in (ada, grace):
        await expect(page.locator("#typing")).to_have_text("Alan Turing is typing…")
    await expect(alan.locator("#typing .typist")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    await ada.screenshot(path=str(ARTIFACTS / "busy-room.png"), caret="initial")

    await alan.close()  # Alan's only tab closes: the other two see him go
    for page in (ada, grace):
        await expect(page.locator("#presence a")).to_have_count(2, timeout=10_000)
        await expect(page.locator("#typing")).not_to_contain_text("Alan", timeout=10_000)  # within TYPING_TIMEOUT
    assert console.errors == []
