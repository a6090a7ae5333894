"""Rows a person can read, in a real browser on both stacks: names, groups, a day divider, one's own zone."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from quart_chat.profiles import ProfileChanges
from quart_chat.services import build_profiles
from quart_chat.settings import Settings
from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.e2e.test_chat_in_browser import row, say, sign_up
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

ZONE = "Asia/Kolkata"  # +05:30: its clock never reads like UTC's


async def set_time_zone(server: ChatServer, backend: dict[str, str], handle: str, zone: str) -> None:
    """Change a person's zone in the server's own profile store, as /settings would."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in backend.items():
            env.setenv(name, value)  # the Google libraries read the emulator hosts from the process
        settings = Settings.from_env({**os.environ, "CHAT_DATA_DIR": str(server.data_dir)})
        profiles = build_profiles(settings)
        await profiles.open()
        try:
            person = await profiles.by_handle(handle)
            assert person is not None, f"no profile @{handle}"
            await profiles.update(person.uid, ProfileChanges(time_zone=zone))
        finally:
            await profiles.close()


async def test_rows_show_names_grouped_under_a_day_divider_in_the_viewers_zone(
    browser: Browser, server: ChatServer, backend: dict[str, str], console: ConsoleWatch
) -> None:
    ada = console.watch(await (await browser.new_context()).new_page(), "ada")
    bob = console.watch(await (await browser.new_context()).new_page(), "bob")
    await sign_up(ada, server.base, "ada@example.com")
    await sign_up(bob, server.base, "bob@example.com")

    await say(ada, "Is anyone here?")
    await say(ada, "Hello?")
    await expect(row(bob, "Hello?")).to_have_count(1)
    await say(bob, "Hi Ada")
    await expect(row(ada, "Hi Ada")).to_have_count(1)

    for page in (ada, bob):
        rows = page.locator("#messages .msg")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(0).locator(".author")).to_have_text("ada")
        await expect(rows.nth(0).locator(".handle")).to_have_text("@ada")
        await expect(rows.nth(1)).to_have_class("msg msg--cont")  # one author, within five minutes
        hidden_name = await rows.nth(1).locator(".author").bounding_box()
        assert hidden_name["width"] <= 1 and hidden_name["height"] <= 1  # visually hidden, kept for screen readers
        await expect(rows.nth(2).locator(".author")).to_have_text("bob")
        await expect(rows.nth(2)).to_have_class("msg")
        await expect(page.locator("#messages .day")).to_have_text(["Today"])  # one divider, before the first
        await expect(page.locator("#messages")).not_to_contain_text("@example.com")
    colour = await bob.locator("#messages .msg .author").first.evaluate("e => getComputedStyle(e).color")
    assert colour not in ("rgb(29, 36, 51)", "")  # the author's colour, not the text colour
    ARTIFACTS.mkdir(exist_ok=True)
    await bob.screenshot(path=str(ARTIFACTS / "rows-bob.png"), caret="initial", animations="allow")

    first_time = bob.locator("#messages .msg time").first
    at = datetime.fromisoformat(await first_time.get_attribute("datetime"))
    await expect(first_time).to_have_text(f"{at:%H:%M}")  # UTC by default
    await set_time_zone(server, backend, "bob", ZONE)
    await bob.reload()
    local = at.astimezone(ZoneInfo(ZONE))
    await expect(first_time).to_have_text(f"{local:%H:%M}")
    full = f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} {ZONE}"  # e.g. Sunday 29 November 2026, 19:35
    await expect(first_time).to_have_attribute("title", full)
    await expect(bob.locator(".chat-head .tz")).to_have_text(f"Times in {ZONE}")
    await expect(ada.locator("#messages .msg time").first).to_have_text(f"{at:%H:%M}")  # ada's zone is her own
    assert console.errors == [], "\n".join(console.errors)
