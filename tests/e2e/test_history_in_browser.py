"""Older history in a real browser: "Load older messages" pages back in order, without a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.conftest import ConsoleWatch
from tests.e2e.test_chat_in_browser import sign_up
from tests.support.http_user import RemoteUser, collect_rows, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e


async def test_load_older_pages_back_in_store_order(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    # The message limit is per person (a burst of 10), so six writers write ten rows each, in turn.
    for chunk in range(6):
        writer = await RemoteUser(server.base, f"writer{chunk}@example.com").sign_up()
        async with writer.socket() as ws:
            await ws.recv()
            for i in range(chunk * 10, chunk * 10 + 10):
                await say(ws, f"old {i:02d}")
            await collect_rows(ws, 10)
        await writer.close()

    page = console.watch(await (await browser.new_context()).new_page(), "reader")
    await sign_up(page, server.base, "reader@example.com")
    rows = page.locator(".scroller .msg .text")  # older pages go above the live list (#older-rows)
    await expect(rows).to_have_count(50)
    await expect(rows.first).to_have_text("old 10")
    await page.click("#older a")  # htmx: hx-get, the rows upserted above the others
    await expect(rows).to_have_count(60)
    assert await rows.all_inner_texts() == [f"old {i:02d}" for i in range(60)]
    await expect(page.locator("#older-rows .msg")).to_have_count(10)  # outside the role="log": not announced
    await expect(page.locator("#older")).to_contain_text("This is the beginning of #general.")
    assert page.url.endswith("/rooms/general")  # no navigation happened
    assert console.errors == [], "\n".join(console.errors)
