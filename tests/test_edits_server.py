"""Editing and deleting one's own message (issue 10), black-box: real servers on both stacks (and two
instances on one Redis), plain HTTP forms and WebSockets, no browser.

The rules: only the author may edit or delete (403 for anyone else, 404 for an unknown id, 400 without
the CSRF token; nothing changes), everyone in the place sees the new version at once in place, a deleted
message's text is gone from the store, the pages and the live stream, and a page that was offline
catches the changes up on reconnect.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, collect_rows, rows, say, ws_path
from tests.support.redis_server import RedisServer
from tests.support.server import ChatServer, running

pytestmark = pytest.mark.server

# A changed row: a partial that replaces the row of that id (live_protocol._changed_row).
CHANGED = re.compile(r'<hx-partial hx-target="#m-([^"]+)" hx-swap="outerHTML"[^>]*>(<li .*?</li>)</hx-partial>', re.S)
HX = {"HX-Request": "true"}


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


async def changed_rows(ws: ClientConnection, until: int, timeout: float = 10.0) -> dict[str, str]:
    """Read frames until ``until`` changed rows came; the last version of each, by id."""
    got: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while len(got) < until:
            got |= dict(CHANGED.findall(str(await ws.recv())))
    return got


async def posted(user: RemoteUser, room: str, text: str) -> str:
    """Post a message without JavaScript; its id, from the page."""
    response = await user.post_form(f"/rooms/{room}/messages", {"message": text}, page=f"/rooms/{room}")
    assert response.status_code == 303, response.text
    page = (await user.http.get(f"/rooms/{room}")).text
    return next(mid for mid, said in rows(page) if said == text)


async def test_the_author_edits_and_deletes_and_everyone_sees_it_at_once(server: ChatServer) -> None:
    ada, bob = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob")]
    async with ada.socket() as a, bob.socket() as b:
        await a.recv()
        await b.recv()
        await say(a, "helo wrold")
        ((mid, _),) = await collect_rows(b, 1)
        await collect_rows(a, 1)

        # Without JavaScript: the form posts, the answer is back to the room.
        edited = await ada.post_form(f"/rooms/general/messages/{mid}/edit", {"text": "hello world"})
        assert edited.status_code == 303 and edited.headers["location"] == f"/rooms/general#m-{mid}"
        for ws in (a, b):
            row = (await changed_rows(ws, 1))[mid]
            assert 'class="text">hello world</span>' in row and "(edited)" in row and "wrold" not in row

        # With htmx: the answer is the new row, swapped in place of the form.
        page = (await ada.http.get("/rooms/general")).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        gone = await ada.http.post(f"/rooms/general/messages/{mid}/delete", data={"csrf_token": token}, headers=HX)
        assert gone.status_code == 200 and f'id="m-{mid}"' in gone.text and "message deleted" in gone.text
        for ws in (a, b):
            row = (await changed_rows(ws, 1))[mid]
            assert "message deleted" in row and "hello" not in row and 'class="text"></span>' in row

    for user in (ada, bob):  # the pages show the deleted row, and nothing of its text
        page = (await user.http.get("/rooms/general")).text
        assert "message deleted" in page and "hello world" not in page and "helo" not in page
        assert (await user.http.get(f"/rooms/general/messages/{mid}/edit")).status_code == 404
    if server.env.get("CHAT_STORE", "sqlite") == "sqlite":  # and the store holds nothing of it
        with sqlite3.connect(server.data_dir / "chat.sqlite3") as db:
            assert db.execute("SELECT text, deleted FROM messages WHERE id = ?", (int(mid),)).fetchall() == [("", 1)]
    await ada.close()
    await bob.close()


async def test_nobody_else_can_edit_or_delete_and_nothing_changes(server: ChatServer) -> None:
    ada, bob = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob")]
    mid = await posted(ada, "general", "ada owns these words")
    form = f"/rooms/general/messages/{mid}/edit"
    assert (await bob.http.get(form)).status_code == 403
    assert (await bob.post_form(form, {"text": "bob's words"})).status_code == 403
    refused = await bob.post_form(f"/rooms/general/messages/{mid}/delete", {})
    assert refused.status_code == 403 and "Only the person who wrote a message" in refused.text
    for unknown in ("999999", "f" * 32, "nope"):
        assert (await ada.post_form(f"/rooms/general/messages/{unknown}/edit", {"text": "x"})).status_code == 404
        assert (await ada.post_form(f"/rooms/general/messages/{unknown}/delete", {})).status_code == 404
    no_token = await ada.http.post(form, data={"text": "forged"})
    assert no_token.status_code == 400
    assert (await ada.http.post(f"/rooms/general/messages/{mid}/delete", data={})).status_code == 400
    elsewhere = await ada.post_form(f"/rooms/random/messages/{mid}/edit", {"text": "moved?"})
    assert elsewhere.status_code == 404  # an id is a message of its own place only
    assert [text for _, text in rows((await bob.http.get("/rooms/general")).text)] == ["ada owns these words"]

    own = await ada.http.get(form)  # the author's form, with the text to change
    assert own.status_code == 200 and "ada owns these words</textarea>" in own.text
    too_long = await ada.post_form(form, {"text": "x" * 5000})
    assert too_long.status_code == 400 and "Message too long" in too_long.text and "x" * 5000 in too_long.text
    assert (await ada.post_form(form, {"text": "   "})).status_code == 400
    assert [text for _, text in rows((await bob.http.get("/rooms/general")).text)] == ["ada owns these words"]
    await ada.close()
    await bob.close()


async def test_in_a_conversation_the_same_rules_hold_with_the_pages_check(server: ChatServer) -> None:
    ada, bob, eve = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob", "eve")]
    sent = await ada.post_form("/dm/bob/messages", {"message": "between us"}, page="/dm/bob")
    assert sent.status_code == 303
    mid = next(m for m, text in rows((await ada.http.get("/dm/bob")).text) if text == "between us")
    async with bob.socket(path=await bob.ws_path("/dm/ada")) as b:
        await b.recv()
        edit = await ada.post_form(f"/dm/bob/messages/{mid}/edit", {"text": "between us two"}, page="/dm/bob")
        assert edit.status_code == 303
        assert 'class="text">between us two</span>' in (await changed_rows(b, 1))[mid]
    page = (await ada.http.get("/dm/bob")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    no_peer = await ada.http.post(f"/dm/bob/messages/{mid}/edit", data={"csrf_token": token, "text": "x"})
    assert no_peer.status_code == 409  # a conversation's form carries its page's check, like the composer
    assert (await bob.post_form(f"/dm/ada/messages/{mid}/delete", {}, page="/dm/ada")).status_code == 403
    assert (await eve.post_form(f"/dm/ada/messages/{mid}/delete", {}, page="/dm/ada")).status_code == 404
    assert (await eve.post_form(f"/rooms/general/messages/{mid}/delete", {})).status_code == 404
    assert [text for _, text in rows((await bob.http.get("/dm/ada")).text)] == ["between us two"]
    for user in (ada, bob, eve):
        await user.close()


async def test_a_page_that_was_offline_catches_up_edits_and_deletions(server: ChatServer) -> None:
    ada, bob = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob")]
    first = await posted(ada, "general", "first draft")
    second = await posted(ada, "general", "second thought")
    path = ws_path((await bob.http.get("/rooms/general")).text)  # bob's page, before the changes
    assert "changed=" in path
    assert (await ada.post_form(f"/rooms/general/messages/{first}/edit", {"text": "final"})).status_code == 303
    assert (await ada.post_form(f"/rooms/general/messages/{second}/delete", {})).status_code == 303
    async with bob.socket(path=path) as b:  # the page's socket, (re)connecting with its cursors
        got = await changed_rows(b, 2)
    assert 'class="text">final</span>' in got[first] and "(edited)" in got[first]
    assert "message deleted" in got[second] and "second thought" not in got[second]
    async with bob.socket(path=ws_path((await bob.http.get("/rooms/general")).text)) as fresh:
        frame = str(await fresh.recv())  # a page made after the changes has nothing to catch up
    assert not CHANGED.search(frame)
    await ada.close()
    await bob.close()


async def test_across_two_instances_on_redis_the_change_reaches_the_other(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {"CHAT_HUB": "redis", "CHAT_REDIS_URL": redis_server.url}
    with running(ChatServer(tmp_path / "data", **env), ChatServer(tmp_path / "data", **env)) as (one, two):
        ada = await RemoteUser(one.base, "ada@example.com").sign_up()
        bob = await RemoteUser(two.base, "bob@example.com").sign_up()
        mid = await posted(ada, "general", "typo here")
        async with bob.socket() as b:
            await b.recv()
            assert (await ada.post_form(f"/rooms/general/messages/{mid}/edit", {"text": "no typo"})).status_code == 303
            assert 'class="text">no typo</span>' in (await changed_rows(b, 1))[mid]
            assert (await ada.post_form(f"/rooms/general/messages/{mid}/delete", {})).status_code == 303
            assert "message deleted" in (await changed_rows(b, 1))[mid]
        await ada.close()
        await bob.close()


async def test_an_edit_counts_against_the_message_rate_and_a_refusal_keeps_the_text(
    tmp_path: Path, backend: dict[str, str]
) -> None:
    srv = start_server(tmp_path / "data", backend, CHAT_MESSAGES_PER_MINUTE="1", CHAT_MESSAGE_BURST="1")
    try:
        ada = await RemoteUser(srv.base, "ada@example.com").sign_up()
        mid = await posted(ada, "general", "the one message a minute")
        refused = await ada.post_form(f"/rooms/general/messages/{mid}/edit", {"text": "an edit too soon"})
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert "an edit too soon</textarea>" in refused.text  # nothing typed is lost
        assert [t for _, t in rows((await ada.http.get("/rooms/general")).text)] == ["the one message a minute"]
        await ada.close()
    finally:
        srv.kill()
