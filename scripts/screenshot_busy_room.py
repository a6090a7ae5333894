"""Remake docs/screenshots/busy-room.png: three people in #general, with their sidebar, as the README shows it;
and docs/screenshots/phone-room.png: the same room on Ada's phone, scrolled up as a message arrives.

Starts its own server on a free loopback port with a fresh data folder, drives Debian's
Chromium with Playwright (as the browser tests do), and stops the server by its process id.
Run from a checkout after ./scripts/test.sh has made the venv:

    .venv/bin/python scripts/screenshot_busy_room.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM_FLAGS, ConsoleWatch  # noqa: E402
from tests.e2e.test_busy_room_in_browser import PEOPLE, join  # noqa: E402
from tests.e2e.test_chat_in_browser import expect_live  # noqa: E402
from tests.support.server import ChatServer  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "busy-room.png"
PHONE_OUT = ROOT / "docs" / "screenshots" / "phone-room.png"
PHONE = {"viewport": {"width": 390, "height": 760}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
TALK = (
    (0, "Morning! Has anyone looked at the new engine notes?"),
    (0, "The second table has the loop I mentioned."),
    (1, "I have. The loop works, but the cards run out at step 7."),
    (2, "Could we store the intermediate values instead of recomputing them?"),
    (2, "That would halve the cards."),
    (0, "Yes: a store of 1,000 numbers is in the plan."),
    (1, "Then I'll write the compiler for it. @alan-turing, review?"),
)


async def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        server = ChatServer(Path(tmp) / "data").start()
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
                console = ConsoleWatch()
                pages = [await join(browser, console, server.base, *who) for who in PEOPLE]
                ada, grace, alan = pages
                # Ada makes a room from the directory; the others open it once (they join), then go back.
                await ada.goto(server.base + "/rooms")
                await ada.fill(".create-form input[name=name]", "Design Team")
                await ada.fill(".create-form input[name=topic]", "Type, layout and the new cards")
                await ada.get_by_role("button", name="Make the room").click()
                await ada.wait_for_url("**/rooms/design-team")
                for page in pages:
                    await page.goto(server.base + "/rooms/design-team")
                    await page.goto(server.base + "/rooms/general")
                    await expect_live(page)
                for who, text in TALK:
                    await pages[who].fill("#message", text)
                    await pages[who].press("#message", "Enter")
                    await expect(pages[0].locator("#messages .msg .text", has_text=text)).to_have_count(1)
                await expect(pages[0].locator("#presence li")).to_have_count(len(PEOPLE))
                # Elsewhere, while Ada reads #general: Grace in #design-team, Alan in a direct message.
                for who, path, texts in (
                    (grace, "/rooms/design-team", ("@ada-lovelace the new type scale is up", "Two options to pick")),
                    (alan, "/dm/ada-lovelace", ("Lunch at one?",)),
                ):
                    other = await who.context.new_page()
                    await other.goto(server.base + path)
                    await expect_live(other)
                    for text in texts:
                        await other.fill("#message", text)
                        await other.press("#message", "Enter")
                        await expect(other.locator("#messages .msg .text", has_text=text)).to_have_count(1)
                    await other.close()
                await expect(ada.locator('#sidebar a[href="/rooms/design-team"]')).to_have_attribute("data-unread", "2")
                await expect(ada.locator('#sidebar a[href="/dm/alan-turing"]')).to_have_attribute("data-unread", "1")
                await pages[2].type("#message", "Looks good to m", delay=60)  # Alan is typing…
                await expect(pages[0].locator("#typing")).to_contain_text("typing", timeout=5_000)
                OUT.parent.mkdir(parents=True, exist_ok=True)
                await pages[0].screenshot(path=str(OUT))
                # Ada's phone: scrolled up a little when Grace writes, so "New messages" shows.
                phone = await (await browser.new_context(**PHONE)).new_page()
                await phone.goto(server.base + "/login")
                await phone.fill("input[name=email]", PEOPLE[0][0])
                await phone.fill("input[name=password]", "correct horse battery")
                await phone.click("button[type=submit]")
                await phone.wait_for_url("**/rooms/general")
                await expect_live(phone)
                await phone.locator(".scroller").evaluate("e => { e.scrollTop = -120; }")
                await grace.fill("#message", "Sent while Ada was reading further up.")
                await grace.press("#message", "Enter")
                await expect(phone.locator("#jump")).to_have_text("New messages ↓", use_inner_text=True)
                await phone.screenshot(path=str(PHONE_OUT))
                await browser.close()
        finally:
            server.kill()
    print(f"wrote {OUT.relative_to(ROOT)} and {PHONE_OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
