"""Rooms, conversations, unread counts and mentions in real browsers, on both stacks."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.e2e.test_chat_in_browser import expect_live, row, say, sign_up
from tests.support.conversations import author_of, leaked_key
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e


def nav(page: Page, path: str):
    """The sidebar link to ``path``."""
    return page.locator(f'#sidebar a.nav-link[href="{path}"]')


async def person(browser: Browser, console: ConsoleWatch, base: str, name: str) -> Page:
    page = console.watch(await (await browser.new_context()).new_page(), name)
    await sign_up(page, base, f"{name}@example.com")
    return page


async def background(page: Page, text: str) -> str:
    return await page.locator("#messages .msg", has_text=text).evaluate("e => getComputedStyle(e).backgroundColor")


async def test_a_room_from_the_directory_badges_and_titles_rise_and_reset_and_a_mention_is_marked_for_one(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ada = await person(browser, console, server.base, "ada")
    bob = await person(browser, console, server.base, "bob")

    # Ada makes a room from the directory, typed the way people type.
    await ada.goto(server.base + "/rooms")
    await ada.fill(".create-form input[name=name]", "#Design Team")
    await ada.fill(".create-form input[name=topic]", "Pixels and type")
    await ada.get_by_role("button", name="Make the room").click()
    await ada.wait_for_url("**/rooms/design-team")
    await expect_live(ada)
    await expect(ada.locator(".chat-head h1")).to_have_text("#design-team")
    await expect(ada.locator("#topic")).to_have_text("Pixels and type")
    await expect(nav(ada, "/rooms/design-team")).to_have_attribute("aria-current", "page")

    # Bob finds it in the directory, opens it (he joins), and goes back to #general by the sidebar.
    await bob.goto(server.base + "/rooms")
    await bob.get_by_role("link", name="#design-team").click()
    await bob.wait_for_url("**/rooms/design-team")
    await expect_live(bob)
    await nav(bob, "/rooms/general").click()
    await bob.wait_for_url("**/rooms/general")
    await expect_live(bob)
    await expect(bob).to_have_title("#general · quart-chat")

    # Ada talks in #design-team: Bob's badge and title rise live, the mention counted apart.
    await say(ada, "@bob can you look at the grid?")
    await say(ada, "No rush.")
    link = nav(bob, "/rooms/design-team")
    await expect(link).to_have_attribute("data-unread", "2")
    await expect(link).to_have_attribute("data-mentions", "1")
    await expect(link.locator(".badge-mention")).to_be_visible()
    await expect(bob).to_have_title("(2) #general · quart-chat")
    await bob.screenshot(path=str(ARTIFACTS / "sidebar-unread.png"), caret="initial", animations="allow")

    # He opens it: the row that mentions him is marked for him, the mention is a link to his card.
    await link.click()
    await bob.wait_for_url("**/rooms/design-team")
    await expect(bob).to_have_title("#design-team · quart-chat")
    await expect(bob.locator("#messages a.mention")).to_have_attribute("href", "/people/bob")
    mention_row = "@bob can you look at the grid?"
    assert await background(bob, mention_row) != await background(bob, "No rush.")  # marked for bob
    assert await background(ada, mention_row) == await background(ada, "No rush.")  # not for ada
    await nav(bob, "/rooms/general").click()
    await bob.wait_for_url("**/rooms/general")
    await expect(nav(bob, "/rooms/design-team")).to_have_attribute("data-unread", "0")  # it stays read
    await expect(bob).to_have_title("#general · quart-chat")
    assert console.errors == []


async def test_a_conversation_of_two_that_a_third_cannot_open_by_any_route(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ada = await person(browser, console, server.base, "ada")
    bob = await person(browser, console, server.base, "bob")
    eve = await person(browser, console, server.base, "eve")
    for page, text in ((ada, "hello from ada"), (bob, "hello from bob")):
        await say(page, text)  # in #general: everyone can see who they are (their rows carry uids)
    await expect(row(eve, "hello from bob")).to_have_count(1)

    # Ada messages Bob from his profile card.
    await ada.goto(server.base + "/people/bob")
    await ada.get_by_role("link", name="Message").click()
    await ada.wait_for_url("**/dm/bob")
    await expect_live(ada)
    await say(ada, "the secret plan")
    dm = nav(bob, "/dm/ada")  # Bob, in #general, sees the conversation arrive with its count
    await expect(dm).to_have_attribute("data-unread", "1")
    await expect(bob).to_have_title("(1) #general · quart-chat")
    await dm.click()
    await bob.wait_for_url("**/dm/ada")
    await expect_live(bob)
    await expect(row(bob, "the secret plan")).to_have_count(1)
    await say(bob, "agreed")
    await expect(row(ada, "agreed")).to_have_count(1)

    # Eve knows both uids (from #general) and, say, the server's secret: still no way in.
    general = await eve.content()
    key = leaked_key(server.data_dir, author_of(general, "hello from ada"), author_of(general, "hello from bob"))
    for path in (f"/rooms/{key}", f"/rooms/{key}/history?before=00000000000000000-0", f"/dm/{key}"):
        response = await eve.goto(server.base + path)
        assert response is not None and response.status == 404, path
        assert "the secret plan" not in await eve.content()
    await eve.goto(server.base + "/dm/bob")  # her own conversation with Bob: empty
    await expect_live(eve)
    await expect(eve.locator("#messages .msg")).to_have_count(0)
    await expect(nav(eve, "/dm/ada")).to_have_count(0)
    assert "the secret plan" not in await eve.content()
    assert [e for e in console.errors if "404" not in e] == []  # the refused pages' 404s are expected
