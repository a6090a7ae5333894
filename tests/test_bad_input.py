"""Issue 12, finding 6: bad input against a real server is a 4xx with the app's page or an error frame.

Each case here was a 500 or a socket closed 1000 with nothing sent (a `next` that broke the redirect
after the session was made, cursors that reached a store query, JSON nested past Python's recursion
limit, a lone surrogate that reached SQLite, a too-long password "not an email", Werkzeug's bare
413). The fuzz test (test_fuzz.py) throws arbitrary input at the same routes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, collect_rows, csrf_token, say
from tests.support.server import LIMITS_LIFTED, ChatServer

pytestmark = pytest.mark.server

APP_PAGE = '<main class="card">'  # templates/errors/error.html, not Werkzeug's page


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """One local server for the module's tests (each signs up its own people)."""
    local = {"CHAT_AUTH": "local", "CHAT_STORE": "sqlite"}
    srv = start_server(tmp_path_factory.mktemp("bad-input") / "data", local, **LIMITS_LIFTED)  # many sign-ups
    yield srv
    srv.kill()
    assert "Traceback" not in srv.log(), srv.log()


@pytest.fixture
async def ada(server: ChatServer) -> AsyncIterator[RemoteUser]:
    user = await RemoteUser(server.base, f"ada-{uuid.uuid4().hex[:8]}@example.com").sign_up()
    yield user
    await user.close()


async def post_form(http: httpx.AsyncClient, path: str, data: dict[str, str], token_from: str | None = None):
    page = await http.get(token_from or path)
    return await http.post(path, data={**data, "csrf_token": csrf_token(page.text, path)})


# -- next= at sign-in ---------------------------------------------------------------------------

BAD_NEXT = [
    "/rooms/general\r\nX-Injected: 1",  # was: 500 after the sign-in succeeded
    "/rooms/general%0D%0AX:1",
    "/rooms/\x00",  # was: a bare 500, the Set-Cookie lost, the session orphaned
    "/rooms/%00",
    "https://evil.example/rooms/general",
    "//evil.example/rooms/general",
    "/\\evil.example",
    "/rooms/Not A Room",
    "/healthz",  # ours, but not a page to come back to
    "/logout",
    "/static/chat.css",
    "/rooms/general?x=1",
    "x" * 5000,
]


@pytest.mark.parametrize("action", ["signup", "login"])
async def test_a_bad_next_goes_to_the_default_room_and_the_session_stands(server: ChatServer, action: str) -> None:
    email, password = f"next-{uuid.uuid4().hex[:8]}@example.com", "correct horse"
    if action == "login":
        await (await RemoteUser(server.base, email, password).sign_up()).close()
    for next_url in BAD_NEXT:
        async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
            form = {"email": email if action == "login" else f"{uuid.uuid4().hex[:8]}{email}", "password": password}
            response = await post_form(http, f"/{action}", {**form, "next": next_url})
            assert response.status_code == 303, (next_url, response.status_code, response.text[:200])
            assert response.headers["location"] == "/rooms/general", next_url
            assert "quart_chat_session=" in response.headers.get("set-cookie", ""), next_url
            assert (await http.get("/rooms/general")).status_code == 200, next_url  # signed in: the session stands


@pytest.mark.parametrize(
    ("next_url", "lands"),
    [("/settings", "/settings"), ("/rooms/dev-ops", "/rooms/dev-ops"), ("/rooms/dev-ops/history", "/rooms/dev-ops")],
)
async def test_a_good_next_still_comes_back_to_its_page(server: ChatServer, next_url: str, lands: str) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        form = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse", "next": next_url}
        response = await post_form(http, "/signup", form)
        assert response.status_code == 303 and response.headers["location"] == lands


# -- cursors: history's before= and the socket's after= (both stores) ---------------------------

BAD_CURSORS = [
    "01795939598044236-abc",  # the outline of a cursor, not an id SQLite makes
    "00000000000000000-99999999999999999999",  # past a 64-bit rowid: an OverflowError in the query
    "00000000000000000-\u00b2",  # a superscript two: "²".isdigit() is True, int("²") fails
    "0000000000000000\u00b2-1",
    "00000000000000000--1",
    "00000000000000000-" + "f" * 31,
    "",
]


@pytest.fixture
async def talker(tmp_path: Path, backend: dict[str, str]) -> AsyncIterator[RemoteUser]:
    """A person on a fresh server of each back-end, with one message in #general."""
    srv = start_server(tmp_path / "data", backend)
    user = await RemoteUser(srv.base, "talker@example.com").sign_up()
    async with user.socket() as ws:
        await ws.recv()
        await say(ws, "the one message")
        await collect_rows(ws, 1)
    try:
        yield user
    finally:
        await user.close()
        srv.kill()
        assert "Traceback" not in srv.log(), srv.log()


async def test_bad_history_cursors_are_the_apps_400_page(talker: RemoteUser) -> None:
    for cursor in BAD_CURSORS:
        response = await talker.http.get("/rooms/general/history", params={"before": cursor})
        assert response.status_code == 400, (cursor, response.status_code)
        assert APP_PAGE in response.text and "not one this chat made" in response.text


async def test_a_bad_after_cursor_is_answered_as_none_with_the_rooms_rows(talker: RemoteUser) -> None:
    """The documented choice: a cursor no page of ours rendered is no cursor (catch-up from the start,
    or the latest page); the socket stays open, where it used to close 1000 with nothing sent."""
    for cursor in BAD_CURSORS[:-1]:
        async with talker.socket(after=quote(cursor, safe="")) as ws:
            rows = await collect_rows(ws, 1, timeout=10)  # the room from its start: its first row first
            assert rows[0][1] == "the one message", cursor
            await say(ws, f"still open after {cursor[:20]}")
            assert any("still open" in text for _, text in await collect_rows(ws, 1, timeout=10))


# -- frames ------------------------------------------------------------------------------------


async def answer_to(ada: RemoteUser, frame: str) -> str:
    """What the socket answers ``frame`` with (its composer error), checking that it stays usable."""
    async with ada.socket() as ws:
        await ws.recv()
        await ws.send(frame)
        async with asyncio.timeout(10):
            answer = str(await ws.recv())
            while "composer-error" not in answer:
                answer = str(await ws.recv())
        await say(ws, "after the bad frame")
        assert [t for _, t in await collect_rows(ws, 1)] == ["after the bad frame"]
    return answer


async def test_json_nested_twenty_thousand_deep_gets_an_error_frame(ada: RemoteUser) -> None:
    assert "nested too deeply" in await answer_to(ada, "[" * 20_000 + "]" * 20_000)


async def test_a_lone_surrogate_gets_an_error_frame_and_nothing_is_stored(ada: RemoteUser) -> None:
    assert "not valid Unicode text" in await answer_to(ada, json.dumps({"message": "\ud800"}))
    page = await ada.http.get("/rooms/general")
    assert page.status_code == 200 and "\ufffd" not in page.text


async def test_a_bidi_override_and_invisible_only_text_get_error_frames(ada: RemoteUser) -> None:
    assert "text-direction controls" in await answer_to(ada, json.dumps({"message": "pay \u202eexe.txt"}))
    assert "no visible text" in await answer_to(ada, json.dumps({"message": "\u200b\u3164\u2800"}))


# -- forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["signup", "login"])
async def test_a_too_long_password_is_said_to_be_too_long(server: ChatServer, action: str) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        form = {"email": "someone@example.com", "password": "x" * 1025}
        response = await post_form(http, f"/{action}", form)
    assert response.status_code == 400
    assert "A password has at most 1024 characters." in response.text
    assert "Enter a valid email address." not in response.text


@pytest.mark.parametrize("action", ["signup", "login"])
async def test_a_form_over_64_kib_is_the_form_again_with_a_413(server: ChatServer, action: str) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as http:
        response = await post_form(http, f"/{action}", {"email": "a@example.com", "password": "x" * 70_000})
    assert response.status_code == 413
    assert "larger than 64 KiB" in response.text and 'name="csrf_token"' in response.text  # the form, to retry


async def test_over_64_kib_elsewhere_is_the_settings_form_or_the_apps_page(ada: RemoteUser) -> None:
    response = await post_form(ada.http, "/settings", {"display_name": "x" * 70_000})
    assert response.status_code == 413
    assert "larger than 64 KiB" in response.text and 'action="/settings"' in response.text
    response = await post_form(ada.http, "/rooms/general/messages", {"message": "x" * 70_000}, "/rooms/general")
    assert response.status_code == 413 and APP_PAGE in response.text and "Too large" in response.text


async def test_unknown_pages_and_methods_are_the_apps_pages(ada: RemoteUser) -> None:
    response = await ada.http.get("/no/such/page")
    assert response.status_code == 404 and APP_PAGE in response.text
    response = await ada.http.put("/settings")
    assert response.status_code == 405 and APP_PAGE in response.text and "GET" in response.headers["allow"]
    response = await ada.http.get("/rooms", params={"name": "!!!"})  # nothing left of it to be a room's name
    assert response.status_code == 400 and "letters" in response.text


async def test_invalid_utf8_in_forms_and_query_strings_is_never_a_500(ada: RemoteUser) -> None:
    """A lone surrogate's UTF-8 bytes (ED A0 80) and other invalid bytes, percent-encoded."""
    page = await ada.http.get("/settings")
    token = csrf_token(page.text, "/settings")
    body = f"csrf_token={token}&display_name=%ED%A0%80&handle=%FF%FE&colour=%C0&time_zone=%ED%A0%80"
    response = await ada.http.post(
        "/settings", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    for path in ("/rooms/general/history?before=%ED%A0%80", "/rooms?name=%ED%A0%80", "/login?next=%ED%A0%80"):
        assert (await ada.http.get(path)).status_code < 500, path
