"""Editing and deleting one's own message from its row (issue 10), in real browsers on both stacks:
in place with htmx, seen at once by someone else, and the same forms with JavaScript off."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import PASSWORD, row, say, sign_up
from tests.support.backends import start_server
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e


async def test_the_author_edits_and_deletes_from_the_row_and_the_other_sees_it(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ada = console.watch(await (await browser.new_context()).new_page(), "ada")
    bob = console.watch(await (await browser.new_context()).new_page(), "bob")
    await sign_up(ada, server.base, "ada@example.com")
    await sign_up(bob, server.base, "bob@example.com")
    await say(ada, "helo wrold")
    await expect(row(bob, "helo wrold")).to_have_count(1)

    mine = ada.locator("#messages .msg", has_text="helo wrold")
    theirs = bob.locator("#messages .msg", has_text="helo wrold")
    await expect(theirs.locator(".own-edit")).to_be_hidden()  # only the author is offered it
    await mine.locator(".own-edit").click()  # htmx swaps the row's form in, in place
    field = ada.locator("#messages .msg--editing textarea[name=text]")
    await expect(field).to_have_value("helo wrold")
    await field.fill("hello world")
    await ada.locator("#messages .msg--editing button", has_text="Save").click()

    for page in (ada, bob):  # in place for both, without a reload
        edited = page.locator("#messages .msg", has_text="hello world")
        await expect(edited.locator(".edited")).to_have_text("(edited)")
        await expect(page.locator("#messages .msg--editing")).to_have_count(0)
        await expect(row(page, "helo wrold")).to_have_count(0)

    await ada.locator("#messages .msg", has_text="hello world").locator(".own-edit").click()
    await ada.locator("#messages .msg--editing button", has_text="Delete message").click()
    for page in (ada, bob):
        await expect(page.locator("#messages .msg .deleted")).to_have_text("message deleted")
        await expect(page.locator("#messages")).not_to_contain_text("hello world")
        await expect(page.locator("#messages .msg")).to_have_count(1)
    assert console.errors == [], "\n".join(console.errors)


async def test_with_javascript_off_the_same_forms_work_as_pages(browser: Browser, server: ChatServer) -> None:
    page = await (await browser.new_context(java_script_enabled=False)).new_page()
    await page.goto(server.base + "/signup")
    await page.fill("input[name=email]", "cy@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")
    await page.fill("#message", "draft one")
    await page.click("#composer button[type=submit]")
    await page.locator("#messages .msg", has_text="draft one").locator(".own-edit").click()
    await page.wait_for_url("**/messages/*/edit")
    await page.fill("textarea[name=text]", "final one")
    await page.click("button:has-text('Save')")
    await page.wait_for_url("**/rooms/general*")
    await expect(page.locator("#messages .msg", has_text="final one").locator(".edited")).to_be_visible()
    await page.locator("#messages .msg", has_text="final one").locator(".own-edit").click()
    await page.click("button:has-text('Delete message')")
    await page.wait_for_url("**/rooms/general*")
    await expect(page.locator("#messages .msg .deleted")).to_have_text("message deleted")
    await expect(page.locator("#messages")).not_to_contain_text("final one")


async def test_an_edit_of_a_row_the_page_does_not_show_changes_nothing_there(
    browser: Browser, tmp_path: Path, backend: dict[str, str], console: ConsoleWatch
) -> None:
    server = start_server(tmp_path / "data", backend, CHAT_HISTORY_PAGE_SIZE="2")
    try:
        ada = console.watch(await (await browser.new_context()).new_page(), "ada")
        bob = console.watch(await (await browser.new_context()).new_page(), "bob")
        await sign_up(ada, server.base, "ada@example.com")
        for text in ("oldest", "middle", "newest"):
            await say(ada, text)
        await sign_up(bob, server.base, "bob@example.com")  # his page shows the last two only
        await expect(bob.locator("#messages .msg")).to_have_count(2)
        await ada.locator("#messages .msg", has_text="oldest").locator(".own-edit").click()
        await ada.locator("#messages .msg--editing textarea[name=text]").fill("oldest, edited")
        await ada.locator("#messages .msg--editing button", has_text="Save").click()
        await expect(row(ada, "oldest, edited")).to_have_count(1)
        await say(ada, "after the edit")  # a later row still arrives: the socket is fine
        await expect(row(bob, "after the edit")).to_have_count(1)
        await expect(bob.locator("#messages .msg")).to_have_count(3)  # no out-of-context row was inserted
        await expect(bob.locator("#messages")).not_to_contain_text("oldest")
        await bob.click("#older a")  # loading older shows it as it is now (older pages go in #older-rows)
        await expect(bob.locator("#older-rows .msg .text", has_text="oldest, edited")).to_have_count(1)
        assert console.errors == [], "\n".join(console.errors)
    finally:
        server.kill()
