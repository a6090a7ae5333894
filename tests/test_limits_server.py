"""Issue 12's attacks on a real server (Hypercorn, real sockets), each bounded now (findings 1, 2, 5, 11).

Each test replays an attack from the issue at a scale that runs in seconds. Most share one server
that trusts one proxy hop, so each test plays the proxy and gives its clients addresses of their
own (X-Forwarded-For): the per-address limits of one test never touch another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from quart_chat.auth import EmailTaken
from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, csrf_token, read_until_closed, say, submit
from tests.support.live_page import store_order
from tests.support.server import ChatServer, metric, until_metric

pytestmark = pytest.mark.server

ADDRESSES = (f"198.51.100.{i}" for i in itertools.count(1))  # TEST-NET-2: one or more per test
TOO_MANY = "Too many attempts. Wait"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """One server on the defaults (but for trusting this test as its proxy) for the tests below."""
    srv = ChatServer(tmp_path_factory.mktemp("limits") / "data", CHAT_TRUSTED_PROXIES="1").start()
    yield srv
    srv.kill()


def from_address(user: RemoteUser, address: str | None = None) -> RemoteUser:
    user.http.headers["X-Forwarded-For"] = address or next(ADDRESSES)
    return user


async def user(base: str, email: str, address: str | None = None) -> RemoteUser:
    return from_address(RemoteUser(base, email), address)


def form_error(body: str) -> str:
    match = re.search(r'id="form-error">(.*?)</p>', body)
    return match.group(1) if match else ""


# --- finding 1: password guessing and the hashing DoS --------------------------------------------


async def thirty_wrong_passwords(base: str, email: str) -> list[httpx.Response]:
    guesser = await user(base, "guesser@example.com")
    try:
        return [await submit(guesser, "/login", email, f"guess {i}") for i in range(30)]
    finally:
        await guesser.close()


@pytest.fixture
def any_server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    """A fresh server on each back-end (local+sqlite, firebase+firestore on the emulators)."""
    srv = start_server(tmp_path / "data", backend, CHAT_TRUSTED_PROXIES="1")
    yield srv
    srv.kill()


async def test_thirty_wrong_passwords_are_throttled_alike_for_a_real_and_an_unknown_account(
    any_server: ChatServer,
) -> None:
    """Before: all 30 answered "Wrong email or password." On Firebase the same throttle stands in front of it."""
    ada = await (await user(any_server.base, "ada@example.com")).sign_up()
    await ada.close()
    real = await thirty_wrong_passwords(any_server.base, "ada@example.com")
    unknown = await thirty_wrong_passwords(any_server.base, "nobody@example.com")
    for answers in (real, unknown):
        statuses = [r.status_code for r in answers]
        assert statuses.count(401) <= 10 and statuses.count(429) >= 20, statuses
        throttled = next(r for r in answers if r.status_code == 429)
        assert form_error(throttled.text).startswith(TOO_MANY)
        assert int(throttled.headers["Retry-After"]) >= 1
    # The same answers in the same order, whether the account exists or not (the wait may differ by a
    # second between the two runs, so the words are compared without it).
    assert [r.status_code for r in real] == [r.status_code for r in unknown]
    assert {re.sub(r"\d+", "N", form_error(r.text)) for r in real} == {
        re.sub(r"\d+", "N", form_error(r.text)) for r in unknown
    }
    owner = await user(any_server.base, "ada@example.com")  # her own address is not the guesser's
    try:
        assert (await submit(owner, "/login", "ada@example.com", "correct horse")).status_code == 303
    finally:
        await owner.close()


async def test_logins_at_once_beyond_the_hashing_bound_get_503_with_retry_after(tmp_path: Path) -> None:
    """Before: 128 wrong logins at once all queued for argon2 (64 MiB each). Now at most one hash runs and the
    rest are told to come back (CHAT_PASSWORD_HASHES=1, no wait), with production's hashing cost."""
    srv = ChatServer(
        tmp_path / "data", real_hashing=True, CHAT_TRUSTED_PROXIES="1",
        CHAT_PASSWORD_HASHES="1", CHAT_PASSWORD_HASH_WAIT="0",
    ).start()  # fmt: skip
    crowd = [await user(srv.base, f"c{i}@example.com") for i in range(8)]
    try:
        pages = [await c.http.get("/login") for c in crowd]

        async def log_in(c: RemoteUser, page: httpx.Response) -> httpx.Response:
            form = {"email": c.email, "password": "a guess", "csrf_token": csrf_token(page.text, "/login")}
            return await c.http.post("/login", data=form)

        answers = await asyncio.gather(*(log_in(c, page) for c, page in zip(crowd, pages, strict=True)))
    finally:
        for c in crowd:
            await c.close()
        srv.kill()
    statuses = sorted(r.status_code for r in answers)
    assert 401 in statuses and 503 in statuses, statuses  # one hashed (unknown email: the dummy hash), the rest not
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["Retry-After"] == "2" and "Please try again in a few seconds" in busy.text


async def test_sign_ups_from_one_address_are_throttled(server: ChatServer) -> None:
    """Before: any number of accounts from one address. Now CHAT_SIGNUPS_PER_HOUR (10) at once, then 429."""
    address = next(ADDRESSES)
    statuses = []
    for i in range(11):
        newcomer = await user(server.base, f"new{i}@example.com", address)
        statuses.append((await submit(newcomer, "/signup", newcomer.email, "correct horse")).status_code)
        await newcomer.close()
    assert statuses == [303] * 10 + [429]


# --- finding 11: sign-up says which emails exist ---------------------------------------------------


async def test_sign_up_for_a_taken_address_confirms_nothing_and_with_its_password_signs_in(
    any_server: ChatServer,
) -> None:
    """Before: 409 "That email is already registered." Now the same words as any refused sign-up."""
    ada = await (await user(any_server.base, "ada@example.com")).sign_up()
    await ada.close()
    other = await user(any_server.base, "someone@example.com")
    again = await user(any_server.base, "ada@example.com")
    try:
        taken = await submit(other, "/signup", "ADA@example.com", "another password")
        assert taken.status_code == 400
        assert form_error(taken.text) == EmailTaken.message
        assert "registered" not in taken.text
        signed_in = await submit(again, "/signup", "ada@example.com", "correct horse")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/rooms/general"
        assert "ada" in (await again.http.get("/rooms/general")).text
    finally:
        await other.close()
        await again.close()


# --- finding 2: one person's messages and sockets ------------------------------------------------


async def test_ten_sockets_of_one_person_share_one_message_limit(server: ChatServer) -> None:
    """Before: 50 sockets of one user stored 500 messages in 2 s. Now the person's burst (10) and rate."""
    ada = await (await user(server.base, "ten-sockets@example.com")).sign_up()
    received = metric(server, "chat_messages_received_total")
    try:
        async with contextlib.AsyncExitStack() as tabs:
            # Frames are left unread here: an unbounded client queue, so the clients still read the close.
            sockets = [await tabs.enter_async_context(ada.socket(room="ten", max_queue=None)) for _ in range(10)]
            for ws in sockets:
                await ws.recv()
            await asyncio.gather(*(say(ws, f"s{n} m{i}") for n, ws in enumerate(sockets) for i in range(10)))
            await until_metric(server.base, "chat_messages_received_total", received + 100)
            stored = len(await store_order(ada, "ten"))
    finally:
        await ada.close()
    assert 10 <= stored <= 15, stored  # the burst, plus one a second while the frames arrive


async def test_no_js_posts_are_limited_per_person_with_429_and_the_text_kept(server: ChatServer) -> None:
    """Before: 3,000 posts in 16 s, all stored. Now 429 past the person's burst; the page keeps the text."""
    ada = await (await user(server.base, "poster@example.com")).sign_up()
    try:
        token = csrf_token((await ada.http.get("/rooms/posts")).text, "/rooms/posts")
        answers = [
            await ada.http.post("/rooms/posts/messages", data={"message": f"post {i}", "csrf_token": token})
            for i in range(30)
        ]
        stored = len(await store_order(ada, "posts"))
    finally:
        await ada.close()
    statuses = [r.status_code for r in answers]
    assert statuses.count(303) <= 15 and statuses.count(429) >= 15, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert int(refused.headers["Retry-After"]) >= 1 and "You are sending too fast" in refused.text
    assert re.search(r"<textarea[^>]*>post \d+</textarea>", refused.text)
    assert stored == statuses.count(303)


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[ChatServer]:
    srv = ChatServer(tmp_path / "data", CHAT_MAX_SOCKETS_PER_PERSON="5").start()
    yield srv
    srv.kill()


async def test_ten_sockets_of_one_person_past_the_cap_are_refused_1008_with_a_reason(capped: ChatServer) -> None:
    """Before: any number of sockets per user. Now the newest past CHAT_MAX_SOCKETS_PER_PERSON (5 here) is refused."""
    ada = await RemoteUser(capped.base, "ada@example.com").sign_up()
    try:
        async with contextlib.AsyncExitStack() as tabs:
            opened = [await tabs.enter_async_context(ada.socket(room=f"r{i}")) for i in range(5)]
            for ws in opened:
                assert "Live" in str(await ws.recv())
            for _ in range(5):
                async with ada.socket() as ws:
                    code, reason, frames = await read_until_closed(ws)
                assert (code, reason) == (1008, "too many connections")
                assert "open in too many tabs" in "".join(frames)
            await opened[0].close()  # one tab closed: a place again
            async with ada.socket() as ws:
                assert "Live" in str(await ws.recv())
    finally:
        await ada.close()


# --- finding 5: cheap frames that cost the server ------------------------------------------------


async def flood(ws: ClientConnection, frame: str, count: int) -> None:
    for _ in range(count):
        try:
            await ws.send(frame)
        except ConnectionClosed:  # closed under the flood: what the test waits for
            return


async def test_a_flood_of_bad_frames_is_answered_once_then_closed_1008(server: ChatServer) -> None:
    """Before: 10,000 `{bad` frames each got a reply (6 s of CPU) and the socket stayed open."""
    ada = await (await user(server.base, "bad-frames@example.com")).sign_up()
    try:
        async with ada.socket(room="bad") as ws:
            await ws.recv()
            await flood(ws, "{bad", 300)
            code, reason, frames = await read_until_closed(ws)
    finally:
        await ada.close()
    assert (code, reason) == (1008, "too many bad frames")
    assert sum("could not be read" in frame for frame in frames) == 1
    assert "sent too many frames" in frames[-1]


async def test_a_flood_of_empty_frames_spends_the_frame_budget_and_is_closed_1008(server: ChatServer) -> None:
    """Before: empty frames skipped every limit. Now every frame counts, before it is parsed."""
    ada = await (await user(server.base, "empty-frames@example.com")).sign_up()
    try:
        async with ada.socket(room="empty") as ws:
            await ws.recv()
            await flood(ws, json.dumps({"message": "", "headers": {}}), 500)
            code, reason, _ = await read_until_closed(ws)
    finally:
        await ada.close()
    assert (code, reason) == (1008, "too many frames")
