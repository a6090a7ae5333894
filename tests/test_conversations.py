"""One-to-one conversations through Quart's test client: /dm/<handle>, the same live path as a room,
readable by its two people alone (every route, one check), a key that names nobody."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace

import pytest
from quart import Quart

from quart_chat.places import conversation_key, conversation_secret, is_conversation
from quart_chat.web.context import app_services_of
from tests.conftest import User, make_client
from tests.support.http_user import page_fields, ws_path
from tests.support.ws import Closed
from tests.test_rooms_pages import post, say, sidebar, title

ROW_TEXT = re.compile(r'<span class="text">(.*?)</span></li>', re.S)


@pytest.fixture
async def eve(app: Quart) -> User:
    return await User(make_client(app), "eve@example.com").sign_up()


async def uid_of(user: User) -> str:
    page = await (await user.client.get("/settings")).get_data(as_text=True)
    handle = re.search(r'name="handle" value="([^"]*)"', page).group(1)
    return (await app_services_of(user.client.app).profiles.by_handle(handle)).uid


async def key_of(app: Quart, a: User, b: User) -> str:
    """The conversation's key as the server makes it (what a leak would give away)."""
    return conversation_key(conversation_secret(app.secret_key), await uid_of(a), await uid_of(b))


def send(text: str) -> str:
    return json.dumps({"message": text, "headers": {"HX-Request": "true"}})


async def test_a_profile_card_offers_a_message_and_the_conversation_opens(ada: User, bob: User) -> None:
    card = await (await ada.client.get("/people/bob")).get_data(as_text=True)
    assert '<a class="button" id="message-link" href="/dm/bob">Message</a>' in card
    response = await ada.client.get("/dm/bob")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200 and title(page) == "bob · quart-chat"
    assert 'hx-ws:connect="/dm/bob/ws?after=' in page and 'action="/dm/bob/messages"' in page
    assert "This is the beginning of your conversation with bob." in page and 'placeholder="Message bob"' in page
    other_case = await ada.client.get("/dm/BOB")  # a handle in any case: its one address
    assert other_case.status_code == 308 and other_case.location == "/dm/bob"
    missing = await ada.client.get("/dm/nobody")
    assert missing.status_code == 404 and "Nobody here has the handle @nobody." in await missing.get_data(as_text=True)


async def test_a_handle_typed_another_way_is_its_one_address(ada: User, bob: User) -> None:
    """PRECIS, as the handle was stored: full-width or upper case is a 308 to the one address, its
    query kept, once the handle is known; a handle nobody has stays a 404 (review finding 4)."""
    await say(ada, "/dm/bob", "one")
    await say(ada, "/dm/bob", "two")
    for typed, canonical in (("/dm/\uff22\uff2f\uff22", "/dm/bob"), ("/dm/Bob", "/dm/bob"), ("/dm/@bob", "/dm/bob")):
        response = await ada.client.get(typed)
        assert response.status_code == 308 and response.location == canonical, typed
    query = "before=00000000000000001-x&peer=abc"
    deep = await ada.client.get(f"/dm/\uff22\uff2f\uff22/history?{query}")
    assert deep.status_code == 308 and deep.location == f"/dm/bob/history?{query}"
    for unknown in ("/dm/\uff3a\uff3a\uff3a", "/dm/\u202ebob", "/dm/x"):
        missing = await ada.client.get(unknown)
        assert missing.status_code == 404 and "Nobody here has the handle" in await missing.get_data(as_text=True)
    page = await (await ada.client.get("/dm/bob")).get_data(as_text=True)  # the socket takes any spelling too
    async with ada.client.websocket(
        ws_path(page).replace("/dm/bob/", "/dm/\uff22\uff2f\uff22/"), headers={"Origin": "http://localhost"}
    ) as ws:
        assert "live-status live" in await ws.receive_within()


async def test_history_links_of_a_conversation_carry_its_check(app: Quart, ada: User, bob: User) -> None:
    app_services_of(app).settings = replace(app_services_of(app).settings, history_page_size=1)
    await say(ada, "/dm/bob", "one")
    await say(ada, "/dm/bob", "two")
    page = await (await ada.client.get("/dm/bob")).get_data(as_text=True)
    (link,) = re.findall(r'<a href="([^"]+)"\s+hx-get', page)
    peer = page_fields(page)["peer"]
    assert link.startswith("/dm/bob/history?before=") and link.endswith(f"&amp;peer={peer}")
    older = await ada.client.get(link.replace("&amp;", "&"))
    assert ROW_TEXT.findall(await older.get_data(as_text=True)) == ["one"]
    stale = await ada.client.get(link.replace("&amp;", "&").replace(peer, "0" * 16))
    assert stale.status_code == 409 and "@bob now belongs to someone else" in await stale.get_data(as_text=True)


async def test_notes_to_self_are_a_conversation_of_ones_own(ada: User) -> None:
    card = await (await ada.client.get("/people/ada")).get_data(as_text=True)
    assert 'href="/dm/ada">Notes to self</a>' in card
    await say(ada, "/dm/ada", "remember the milk")
    page = await (await ada.client.get("/dm/ada")).get_data(as_text=True)
    assert ROW_TEXT.findall(page) == ["remember the milk"] and "ada (you)" in page


async def test_both_people_read_and_write_one_conversation_and_it_joins_the_others_sidebar(
    app: Quart, ada: User, bob: User
) -> None:
    await say(ada, "/dm/bob", "just between us")
    bob_page = await bob.room_page("general")
    assert sidebar(bob_page)["/dm/ada"] == (1, 0) and title(bob_page) == "(1) #general · quart-chat"
    dm = await (await bob.client.get("/dm/ada")).get_data(as_text=True)
    assert ROW_TEXT.findall(dm) == ["just between us"]
    await say(bob, "/dm/ada", "agreed")
    key = await key_of(app, ada, bob)
    assert [m.text for m in await app_services_of(app).store.latest(key, 10)] == ["just between us", "agreed"]
    (newest,) = await app_services_of(app).store.latest(key, 1)
    history = await ada.client.get(f"/dm/bob/history?before={newest.cursor}")
    assert ROW_TEXT.findall(await history.get_data(as_text=True)) == ["just between us"]


async def test_a_third_person_gets_404_from_every_route_and_1008_from_the_socket(
    app: Quart, ada: User, bob: User, eve: User
) -> None:
    await say(ada, "/dm/bob", "the secret plan")
    key = await key_of(app, ada, bob)
    assert is_conversation(key) and "ada" not in key and "bob" not in key
    cursor = (await app_services_of(app).store.latest(key, 1))[0].cursor
    for path in (f"/rooms/{key}", f"/rooms/{key}/history?before={cursor}", f"/dm/{key}", f"/people/{key}"):
        response = await eve.client.get(path)
        assert response.status_code == 404, path
        assert "the secret plan" not in await response.get_data(as_text=True)
    for path in (f"/rooms/{key}/messages", f"/rooms/{key}/leave"):
        response = await post(eve, path, {"message": "intrusion", "back": "/rooms"})
        assert response.status_code == 404, path
    async with eve.socket(room=key) as ws:
        assert (await ws.closed_with()).code == 1008
    own = await (await eve.client.get("/dm/bob")).get_data(as_text=True)  # her own conversation with bob
    assert "the secret plan" not in own and ROW_TEXT.findall(own) == []
    assert [m.text for m in await app_services_of(app).store.latest(key, 10)] == ["the secret plan"]


async def test_a_conversation_is_live_like_a_room_and_its_sidebar_count_rises_elsewhere(
    app: Quart, ada: User, bob: User
) -> None:
    await bob.room_page("general")
    dm_ws = ws_path(await (await ada.client.get("/dm/bob")).get_data(as_text=True))
    async with ada.client.websocket(dm_ws, headers={"Origin": "http://localhost"}) as dm, bob.socket() as b:
        await dm.receive_within()
        await b.receive_within()
        await dm.send(send("are you there?"))
        got = ""
        async with asyncio.timeout(5):
            while 'data-unread="1"' not in got:
                got += await b.receive_within()  # bob in #general: the conversation joins his sidebar
        assert 'href="/dm/ada" data-unread="1"' in got and "<title>(1) #general · quart-chat</title>" in got
        assert "are you there?" not in got  # a count, not the text
        echoed = ""
        while "are you there?" not in echoed:
            echoed += await dm.receive_within()


async def test_hiding_a_conversation_until_its_next_message(ada: User, bob: User) -> None:
    await say(ada, "/dm/bob", "one")
    await bob.client.get("/dm/ada")
    response = await post(bob, "/dm/ada/leave", {"back": "/rooms/general"}, page="/rooms/general")
    assert response.status_code == 303
    assert "/dm/ada" not in sidebar(await bob.room_page("general"))
    await say(ada, "/dm/bob", "two")
    assert sidebar(await bob.room_page("general"))["/dm/ada"] == (1, 0)


async def test_the_socket_of_a_conversation_checks_the_same_rule(app: Quart, ada: User) -> None:
    async with ada.client.websocket("/dm/nobody/ws", headers={"Origin": "http://localhost"}) as ws:
        closed = await ws.closed_with()
    assert closed.code == 1008
    async with ada.client.websocket("/dm/ada/ws", headers={"Origin": "http://evil.example"}) as ws:
        with pytest.raises(Closed):
            await ws.receive_within()


async def test_a_conversation_outlives_a_new_app_secret(app: Quart, ada: User, bob: User) -> None:
    """Its key is found in either sidebar before a new one is made: rotating the secret loses nothing."""
    await say(ada, "/dm/bob", "before the new secret")
    app.secret_key = "a-brand-new-secret-" + "y" * 32  # sessions end with it: sign in again
    for user in (ada, bob):
        await user.log_in()
    page = await (await bob.client.get("/dm/ada")).get_data(as_text=True)
    assert ROW_TEXT.findall(page) == ["before the new secret"]
