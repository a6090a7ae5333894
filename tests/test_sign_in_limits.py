"""Sign-in and sign-up throttles in the app (issue 12, finding 1), in process, on a fake clock.

The app trusts one proxy hop here, so each test plays the proxy and picks each browser's address
(X-Forwarded-For). The back-offs themselves are specified in tests/contracts/limiter_contract.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from quart import Quart
from quart.testing import QuartClient

from quart_chat.app import create_app
from quart_chat.web.context import app_services_of
from tests.conftest import make_client
from tests.contracts.limiter_contract import Clock
from tests.support.http_user import csrf_token

FREE = 3  # CHAT_SIGN_IN_FREE_FAILURES here: 3 per account and address, 12 per address, 6 per account


@pytest.fixture
async def app(settings) -> AsyncIterator[Quart]:
    app = create_app(replace(settings, trusted_proxies=1, sign_in_free_failures=FREE, signups_per_hour=3))
    async with app.test_app():
        yield app


@pytest.fixture
def clock(app: Quart) -> Clock:
    clock = Clock()
    app_services_of(app).limiter.clock = clock  # type: ignore[attr-defined]  # the memory limiter's
    return clock


@dataclass
class Browser:
    client: QuartClient
    address: str

    async def submit(self, path: str, email: str, password: str) -> tuple[int, str, str | None]:
        headers = {"X-Forwarded-For": self.address}
        page = await (await self.client.get(path, headers=headers)).get_data(as_text=True)
        form = {"email": email, "password": password, "csrf_token": csrf_token(page, path)}
        response = await self.client.post(path, form=form, headers=headers)
        body = await response.get_data(as_text=True)
        return response.status_code, body, response.headers.get("Retry-After")

    async def log_in(self, email: str, password: str) -> tuple[int, str, str | None]:
        return await self.submit("/login", email, password)

    async def sign_up(self, email: str, password: str = "correct horse") -> int:  # noqa: S107
        return (await self.submit("/signup", email, password))[0]

    async def log_out(self) -> None:
        page = await (await self.client.get("/settings")).get_data(as_text=True)
        await self.client.post("/logout", form={"csrf_token": csrf_token(page, "/settings")})


def browser(app: Quart, address: str) -> Browser:
    return Browser(make_client(app), address)


def form_error(body: str) -> str:
    match = re.search(r'<p class="error" role="alert" id="form-error">(.*?)</p>', body)
    assert match, body
    return match.group(1)


async def guesses_until_throttled(who: Browser, email: str, limit: int = 20) -> tuple[int, str, str | None]:
    for attempt in range(1, limit + 1):
        status, body, retry_after = await who.log_in(email, f"guess {attempt}")
        if status == 429:
            return attempt, form_error(body), retry_after
        assert status == 401
    raise AssertionError(f"{limit} wrong passwords and no 429")


async def test_guessing_backs_off_after_the_free_failures_alike_for_an_unknown_account(
    app: Quart, clock: Clock
) -> None:
    assert await browser(app, "192.0.2.1").sign_up("ada@example.com") == 303
    real = await guesses_until_throttled(browser(app, "198.51.100.1"), "ada@example.com")
    unknown = await guesses_until_throttled(browser(app, "198.51.100.2"), "nobody@example.com")
    assert real == unknown  # the same attempt, words and wait: the answer does not say which exists
    attempt, error, retry_after = real
    assert attempt == FREE + 2  # the free ones, one that starts the back-off, then 429
    assert error == "Too many attempts. Wait 1 second and try again." and retry_after == "1"


async def test_the_back_off_doubles_ends_and_a_success_forgives(app: Quart, clock: Clock) -> None:
    ada = browser(app, "198.51.100.1")
    assert await browser(app, "192.0.2.1").sign_up("ada@example.com") == 303
    await guesses_until_throttled(ada, "ada@example.com")
    clock.advance(1)
    assert (await ada.log_in("ada@example.com", "guess"))[0] == 401  # the wait is over: one more try
    assert (await ada.log_in("ada@example.com", "correct horse"))[2] == "2"  # the next wait doubled
    clock.advance(2)
    assert (await ada.log_in("ada@example.com", "correct horse"))[0] == 303
    await ada.log_out()
    for _ in range(FREE):  # forgiven: the free failures again
        assert (await ada.log_in("ada@example.com", "guess"))[0] == 401


async def test_guessing_from_many_addresses_slows_strangers_but_not_the_owners_browser(
    app: Quart, clock: Clock
) -> None:
    owner = browser(app, "192.0.2.1")
    assert await owner.sign_up("ada@example.com") == 303  # this browser now knows the account (device cookie)
    await owner.log_out()
    for i in range(2 * FREE + 1):  # one guess each from many addresses: past the per-account free ones
        assert (await browser(app, f"203.0.113.{i}").log_in("ada@example.com", "guess"))[0] == 401
    stranger = await browser(app, "198.51.100.9").log_in("ada@example.com", "correct horse")
    assert stranger[0] == 429 and stranger[2] == "1"  # the account's own back-off: seconds, capped at 30
    owner.address = "198.51.100.10"  # the owner's browser, even from an address it never used
    assert (await owner.log_in("ada@example.com", "correct horse"))[0] == 303


async def test_sign_ups_are_a_rate_per_address(app: Quart, clock: Clock) -> None:
    one = "198.51.100.1"
    answers = [await browser(app, one).sign_up(f"user{i}@example.com") for i in range(4)]
    assert answers == [303, 303, 303, 429]  # CHAT_SIGNUPS_PER_HOUR=3 here
    assert await browser(app, "198.51.100.2").sign_up("other@example.com") == 303
    clock.advance(3600 / 3)  # the hourly rate gives one back
    assert await browser(app, one).sign_up("later@example.com") == 303
