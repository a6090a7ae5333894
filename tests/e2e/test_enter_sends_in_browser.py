"""Enter sends, Shift+Enter adds a line, under the strict CSP (no eval), on both stacks.

htmx tells Enter from Shift+Enter with a trigger filter, which it compiles; hx-csp runs it as a
script bearing the page's nonce. So these also show that nothing is blocked: the console watch
fails on any error (a CSP violation, or hx-csp's "blocked <form#composer>"), and a second person
still sees the rows live, with the Edit link and "Load older" working after the change.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import row, sign_up
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

CLIENT_ID = "#composer input[name=client_id]"


async def enter_sends(page: Page) -> None:
    """Press Enter in the field and wait for the composer to come back empty (a fresh client id)."""
    old = await page.locator(CLIENT_ID).input_value()
    await page.locator("#message").press("Enter")
    await expect(page.locator(CLIENT_ID)).not_to_have_value(old)
    await expect(page.locator("#message")).to_have_value("")


async def test_enter_sends_and_shift_enter_adds_a_line(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ada = console.watch(await (await browser.new_context()).new_page(), "ada")
    bob = console.watch(await (await browser.new_context()).new_page(), "bob")
    await sign_up(ada, server.base, "ada@example.com")
    await sign_up(bob, server.base, "bob@example.com")
    box = ada.locator("#message")

    # Shift+Enter adds a line; Enter sends both lines, and the row shows two lines to both people.
    await box.press_sequentially("first line")
    await box.press("Shift+Enter")
    await box.press_sequentially("second line")
    await expect(box).to_have_value("first line\nsecond line")
    await enter_sends(ada)
    for page in (ada, bob):
        await expect(row(page, "second line")).to_have_count(1)
        assert await row(page, "second line").inner_text() == "first line\nsecond line"

    # The composer that came back over the socket is armed too (its hx-nonce is the page's).
    await box.press_sequentially("again by Enter")
    await enter_sends(ada)
    await expect(row(bob, "again by Enter")).to_have_count(1)
    assert await row(ada, "again by Enter").inner_text() == "again by Enter"  # no newline was added

    # While an input method composes, Enter confirms the composition and never sends: the text
    # stays, and what follows joins it in one message (had it sent, "more" would be a row alone).
    await box.press_sequentially("composed")
    await box.dispatch_event("keydown", {"key": "Enter", "isComposing": True, "bubbles": True, "cancelable": True})
    await box.press("Shift+Enter")
    await box.press_sequentially("more")
    await expect(box).to_have_value("composed\nmore")
    await ada.click("#composer button[type=submit]")  # the Send button still sends
    await expect(row(bob, "composed")).to_have_count(1)
    assert await row(bob, "composed").inner_text() == "composed\nmore"

    # A held Enter's repeats send nothing (each would be a frame; a burst closes the socket, 1008).
    await box.press_sequentially("held")
    await box.dispatch_event("keydown", {"key": "Enter", "repeat": True, "bubbles": True, "cancelable": True})
    await box.press("Shift+Enter")
    await box.press_sequentially("down")
    await ada.click("#composer button[type=submit]")
    await expect(row(bob, "held")).to_have_count(1)
    assert await row(bob, "held").inner_text() == "held\ndown"

    # The Edit link of a live row (an HTTP fragment, nonce rewritten by hx-csp) still opens in place.
    own = ada.locator("#messages .msg", has_text="again by Enter")
    await own.hover()
    await own.locator("a.own-edit").click()
    await expect(ada.locator("#messages form.edit-form")).to_have_count(1)
    assert console.errors == []
