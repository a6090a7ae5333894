"""People with JavaScript off: sign up with a display name, change settings, open someone's card."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.conftest import ARTIFACTS, ConsoleWatch
from tests.support.server import ChatServer

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse"


async def sign_up_without_js(page: Page, base: str, email: str, display_name: str) -> None:
    await page.goto(base + "/signup")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=display_name]", display_name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms/general")


async def test_settings_and_profile_cards_work_with_javascript_off(
    browser: Browser, server: ChatServer, console: ConsoleWatch
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    bob = console.watch(await (await browser.new_context(java_script_enabled=False)).new_page(), "bob")
    await sign_up_without_js(bob, server.base, "bob@example.com", "Bob Builder")
    ada = console.watch(await (await browser.new_context(java_script_enabled=False)).new_page(), "ada")
    await sign_up_without_js(ada, server.base, "ada@example.com", "Ada Lovelace")
    await expect(ada.locator("#whoami")).to_have_text("Ada Lovelace")
    await expect(ada.locator("header")).not_to_contain_text("ada@example.com")

    # Settings: a plain form, posted and redirected back with a notice.
    await ada.click("header >> text=Settings")
    await ada.wait_for_url("**/settings")
    await expect(ada.locator("#own-email")).to_have_text("ada@example.com")  # the owner's page alone
    await ada.fill("input[name=display_name]", "Countess Ada")
    await ada.check("input[name=colour][value=teal]")
    await ada.select_option("select[name=time_zone]", "Europe/London")
    await ada.click("button[type=submit]")
    await ada.wait_for_url("**/settings")
    await expect(ada.locator("#notice")).to_have_text("Saved.")
    await expect(ada.locator("input[name=display_name]")).to_have_value("Countess Ada")
    await expect(ada.locator("input[name=colour][value=teal]")).to_be_checked()
    await expect(ada.locator("select[name=time_zone]")).to_have_value("Europe/London")
    await ada.screenshot(path=str(ARTIFACTS / "settings-no-js.png"), caret="initial", animations="allow")
    await ada.click("text=Back to the chat")
    await ada.wait_for_url("**/rooms/general")
    await expect(ada.locator("#whoami")).to_have_text("Countess Ada")

    # Someone else's card, and the way back.
    await ada.goto(server.base + "/people/Bob-Builder")  # any case: one URL
    await ada.wait_for_url("**/people/bob-builder")
    await expect(ada.locator("#person-name")).to_have_text("Bob Builder")
    await expect(ada.locator("#person-handle")).to_have_text("@bob-builder")
    await expect(ada.locator("#profile-card")).not_to_contain_text("bob@example.com")
    await ada.click("text=Back to the chat")
    await ada.wait_for_url("**/rooms/general")

    # Bob sees Ada's new name on her card.
    await bob.goto(server.base + "/people/ada-lovelace")
    await expect(bob.locator("#person-name")).to_have_text("Countess Ada")
    await expect(bob.locator("#profile-card")).to_have_class("card profile-card c-teal")
    assert console.errors == [], "\n".join(console.errors)
