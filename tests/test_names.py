"""Issue 12, finding 7: names that impersonate, against a real server on both stacks.

Sign-up used to take ``alice@example.com`` with a zero-width space, in full-width letters, with a
right-to-left override, NUL, an escape sequence or a newline as new accounts, shown as authors;
messages took bidi overrides and text of fillers that render as nothing. Now an address is made
canonical (PRECIS, IDNA) before the identity provider is asked, names go through PRECIS Nickname,
and messages are NFC with bidi controls and invisible-only text refused.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from quart_chat.auth.local import LocalIdentity
from tests.support.backends import start_server
from tests.support.cheap_hashing import CHEAP_PASSWORD_HASHER
from tests.support.http_user import RemoteUser, collect_rows, csrf_token, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.server

FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) for c in "alice")  # U+FF41...: looks like "alice"
IMPERSONATIONS = [
    ("alice\u200b@example.com", "invisible characters"),  # a zero-width space
    ("\u202ealice@example.com", "invisible characters"),  # a right-to-left override
    ("alice\x00@example.com", "control characters"),
    ("alice\x1b[0m@example.com", "control characters"),
    ("alice\n@example.com", "control characters"),
]


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]):
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()
    assert "Traceback" not in srv.log(), srv.log()


async def submit(base: str, path: str, form: dict[str, str]) -> tuple[httpx.Response, httpx.AsyncClient]:
    http = httpx.AsyncClient(base_url=base, timeout=10)
    page = await http.get(path)
    return await http.post(path, data={**form, "csrf_token": csrf_token(page.text, path)}), http


async def own_email(http: httpx.AsyncClient) -> str:
    page = await http.get("/settings")
    found = re.search(r'<strong id="own-email">([^<]*)</strong>', page.text)
    assert found, page.text[:300]
    return found.group(1)


async def test_look_alike_addresses_are_one_account_or_refused(server: ChatServer) -> None:
    alice = await RemoteUser(server.base, "alice@example.com", "alice's password").sign_up()
    await alice.close()
    # Full-width letters: the same address. Signing up again cannot make a second account...
    response, http = await submit(
        server.base, "/signup", {"email": f"{FULL_WIDTH}@example.com", "password": "another password"}
    )
    await http.aclose()
    assert response.status_code != 303
    form = {"email": f"{FULL_WIDTH}@example.com", "password": "another password"}
    response, http = await submit(server.base, "/login", form)
    assert response.status_code == 401
    await http.aclose()
    # ...and signing in with it is Alice's account.
    form = {"email": f"{FULL_WIDTH}@EXAMPLE.com", "password": "alice's password"}
    response, http = await submit(server.base, "/login", form)
    assert response.status_code == 303
    assert await own_email(http) == "alice@example.com"
    await http.aclose()
    for spelling, says in IMPERSONATIONS:
        response, http = await submit(server.base, "/signup", {"email": spelling, "password": "impostor's password"})
        await http.aclose()
        assert response.status_code == 400, spelling
        assert says in response.text and "Signed in" not in response.text, spelling
    # An internationalised address is one account in any of its spellings (NFC or not, U-label or xn--).
    jorg = {"email": "J\u00d6RG@B\u00dcCHER.de", "password": "j's pass"}
    response, http = await submit(server.base, "/signup", jorg)
    await http.aclose()
    assert response.status_code == 303
    response, http = await submit(server.base, "/login", {**jorg, "email": "jo\u0308rg@xn--bcher-kva.de"})
    assert response.status_code == 303 and await own_email(http) == "j\u00f6rg@b\u00fccher.de"
    await http.aclose()


async def test_names_that_vanish_or_reorder_are_refused_at_sign_up_and_in_settings(server: ChatServer) -> None:
    form = {"email": "eve@example.com", "password": "eve's password", "display_name": "\u202eecilA"}
    response, http = await submit(server.base, "/signup", form)
    await http.aclose()
    assert response.status_code == 400 and "invisible characters" in response.text
    eve = await RemoteUser(server.base, "eve@example.com", "eve's password").sign_up()
    try:
        refused = [
            ("Alice\u200b", "invisible characters"),
            ("\u3164", "invisible characters"),  # a Hangul filler
            ("\u2800", "visible character"),  # Braille blank
            ("Al\nice", "control characters"),
        ]
        for name, says in refused:
            page = await eve.http.get("/settings")
            form = {"csrf_token": csrf_token(page.text, "/settings"), "display_name": name}
            response = await eve.http.post("/settings", data=form)
            assert response.status_code == 400 and says in response.text, name
        page = await eve.http.get("/settings")
        full_width = {"display_name": "\uff25\uff56\uff45", "handle": "\uff25\uff36\uff25-1"}  # Eve, EVE-1
        form = {"csrf_token": csrf_token(page.text, "/settings"), **full_width}
        assert (await eve.http.post("/settings", data=form)).status_code == 303
        page = (await eve.http.get("/settings")).text
        assert 'name="display_name" value="Eve"' in page and 'name="handle" value="eve-1"' in page
    finally:
        await eve.close()


async def test_messages_are_nfc_and_bidi_or_invisible_text_is_refused_without_javascript(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    try:
        for text, says in [("pay \u202etxt.exe", "text-direction controls"), ("\u200b\u3164\u115f", "no visible text")]:
            page = await ada.http.get("/rooms/general")
            form = {"csrf_token": csrf_token(page.text, "/rooms/general"), "message": text}
            response = await ada.http.post("/rooms/general/messages", data=form)
            assert response.status_code == 400 and says in response.text, text
        async with ada.socket() as ws:
            await ws.recv()
            await say(ws, "Zoe\u0308 \U0001f469\u200d\U0001f4bb \u2764\ufe0f")
            await collect_rows(ws, 1)
        page = (await ada.http.get("/rooms/general")).text
        assert "Zo\u00eb \U0001f469\u200d\U0001f4bb \u2764\ufe0f" in page  # NFC; the ZWJ and selector kept
        assert "\u202e" not in page and "\u3164" not in page
    finally:
        await ada.close()


@pytest.fixture
async def older_accounts(tmp_path: Path) -> AsyncIterator[ChatServer]:
    """Accounts as the code before these rules stored them (trimmed, lower-cased), then a server on them."""
    data = tmp_path / "data"
    identity = LocalIdentity(data / "accounts.sqlite3")
    identity._hasher = CHEAP_PASSWORD_HASHER
    await identity.open()
    for email in ("alice@example.com", f"{FULL_WIDTH}@example.com", "bob\u200b@example.com"):
        await identity.sign_up(email, f"password of {email}")
    await identity.close()
    srv = start_server(data, {"CHAT_AUTH": "local", "CHAT_STORE": "sqlite"})
    yield srv
    srv.kill()


async def test_accounts_stored_before_the_rules_still_sign_in(older_accounts: ChatServer) -> None:
    """An ASCII address finds its account; one PRECIS now refuses (a zero-width space) or maps to another
    (full-width letters) signs in by its old spelling. No new account can be made with either."""
    for email in ("Alice@Example.com", f"{FULL_WIDTH}@example.com", "bob\u200b@example.com"):
        stored = email.lower()
        form = {"email": email, "password": f"password of {stored}"}
        response, http = await submit(older_accounts.base, "/login", form)
        assert response.status_code == 303, email
        assert await own_email(http) == stored
        await http.aclose()
    rows = sqlite3.connect(older_accounts.data_dir / "accounts.sqlite3").execute("SELECT count(*) FROM accounts")
    assert rows.fetchone()[0] == 3
    form = {"email": f"x{uuid.uuid4().hex[:4]}\u200b@example.com", "password": "whatever1"}
    response, http = await submit(older_accounts.base, "/signup", form)
    await http.aclose()
    assert response.status_code == 400
