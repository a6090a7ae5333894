"""Rooms people can find, through Quart's test client: the directory, making a room, the sidebar of
joined rooms with unread and mention counts (from the store, at each page load), leaving, mentions."""

from __future__ import annotations

import re

from quart import Quart

from quart_chat.web.context import app_services_of
from tests.conftest import User
from tests.support.http_user import csrf_token, page_fields

LINK = re.compile(
    r'<a id="nav-[0-9a-f]+" class="nav-link[^"]*" href="([^"]+)" data-unread="(\d+)" data-mentions="(\d+)"'
)
TITLE = re.compile(r"<title>([^<]*)</title>")


def sidebar(page: str) -> dict[str, tuple[int, int]]:
    """The sidebar's links: path -> (unread, mentions)."""
    return {path: (int(unread), int(mentions)) for path, unread, mentions in LINK.findall(page)}


def title(page: str) -> str:
    return TITLE.search(page).group(1)


async def post(user: User, path: str, form: dict[str, str], page: str = "/rooms") -> object:
    """POST as the form on ``page`` would: its CSRF token, and a conversation's ``peer``."""
    text = await (await user.client.get(page)).get_data(as_text=True)
    return await user.client.post(path, form={**page_fields(text), **form, "csrf_token": csrf_token(text, page)})


async def say(user: User, place: str, text: str) -> None:
    """Post a message without JavaScript (the composer's form), from the place's own page."""
    response = await post(user, f"{place}/messages", {"message": text}, page=place)
    assert response.status_code == 303 and response.location == place


async def test_a_room_made_from_the_directory_is_listed_with_its_topic(ada: User, bob: User) -> None:
    response = await post(ada, "/rooms", {"name": "#Design Team", "topic": "Pixels and type"})
    assert response.status_code == 303 and response.location == "/rooms/design-team"
    again = await post(bob, "/rooms", {"name": "design team", "topic": "something else"})
    assert again.status_code == 303 and again.location == "/rooms/design-team"  # it exists: opened
    page = await (await bob.client.get("/rooms")).get_data(as_text=True)
    assert '<a class="room-name" href="/rooms/design-team">#design-team</a>' in page
    assert '<span class="room-topic">Pixels and type</span>' in page and "something else" not in page
    room = await bob.room_page("design-team")
    assert '<p class="topic" id="topic">Pixels and type</p>' in room


async def test_a_name_that_cannot_be_a_room_is_a_form_error_that_says_what_is_allowed(ada: User) -> None:
    refused = await post(ada, "/rooms", {"name": "###", "topic": ""})
    page = await refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert 'id="name-error">A room name is 1 to 32 letters, digits or dashes' in page and 'value="###"' in page
    long_topic = await post(ada, "/rooms", {"name": "ok", "topic": "x" * 121})
    assert long_topic.status_code == 400 and "A topic has at most 120 characters." in await long_topic.get_data(
        as_text=True
    )
    for topic, error in (("\u202egnp.exe", "text-direction controls"), ("\u2800", "no visible text")):
        tricked = await post(ada, "/rooms", {"name": "tricks", "topic": topic})
        page = await tricked.get_data(as_text=True)
        assert tricked.status_code == 400 and 'id="topic-error">' in page and error in page, topic
    assert "tricks" not in await (await ada.client.get("/rooms")).get_data(as_text=True)  # nothing was made
    forged = await ada.client.post("/rooms", form={"name": "sneaky", "topic": ""})
    assert forged.status_code == 400 and "expired" in await forged.get_data(as_text=True)
    assert "sneaky" not in await (await ada.client.get("/rooms")).get_data(as_text=True)


async def test_the_directory_lists_rooms_newest_activity_first_with_who_is_there(app: Quart, ada: User) -> None:
    store = app_services_of(app).store
    await store.add("quiet", "u", "x", "long ago")
    await store.add("busy", "u", "x", "just now")
    page = await (await ada.client.get("/rooms")).get_data(as_text=True)
    assert re.findall(r'data-room="([^"]+)"', page) == ["busy", "quiet"]
    assert 'data-here="0"' in page and "last active <time" in page
    async with ada.socket("busy") as ws:
        await ws.receive_within()
        await app_services_of(app).presence.tracker.join("busy", "someone-else")
        page = await (await ada.client.get("/rooms")).get_data(as_text=True)
    busy = page[page.index('data-room="busy"') :]
    assert busy.index('data-here="2"') < busy.index("</li>")  # ada and another person have it open


async def test_the_sidebar_lists_joined_rooms_counts_what_is_unread_and_resets_on_opening(ada: User, bob: User) -> None:
    await ada.room_page("random")  # ada joins #random by opening it, then goes to #general
    page = await ada.room_page("general")
    assert sidebar(page) == {"/rooms/general": (0, 0), "/rooms/random": (0, 0)}
    assert 'href="/rooms/general" data-unread="0" data-mentions="0" aria-current="page"' in page
    assert title(page) == "#general · quart-chat"
    for i in range(3):
        await say(bob, "/rooms/random", f"news {i}")
    page = await ada.room_page("general")
    assert sidebar(page)["/rooms/random"] == (3, 0)
    assert '<span class="badge">3<span class="visually-hidden"> unread</span></span>' in page
    assert title(page) == "(3) #general · quart-chat"
    opened = await ada.room_page("random")
    assert sidebar(opened)["/rooms/random"] == (0, 0) and title(opened) == "#random · quart-chat"
    assert sidebar(await ada.room_page("general"))["/rooms/random"] == (0, 0)  # read: it stays read


async def test_leaving_a_room_takes_it_off_the_sidebar(ada: User) -> None:
    await ada.room_page("random")
    page = await ada.room_page("general")
    assert "/rooms/random" in sidebar(page)
    response = await post(ada, "/rooms/random/leave", {"back": "/rooms/general"}, page="/rooms/general")
    assert response.status_code == 303 and response.location == "/rooms/general"
    assert "/rooms/random" not in sidebar(await ada.room_page("general"))
    here = await post(ada, "/rooms/general/leave", {"back": "/rooms/general"}, page="/rooms/general")
    assert here.status_code == 303 and here.location == "/rooms"  # not back into the room just left
    forged = await ada.client.post("/rooms/random/leave", form={"back": "/rooms/general"})
    assert forged.status_code == 400
    await ada.room_page("random")
    for odd in ("/rooms/general\r\nX-Injected: 1", "//evil.example/", "https://evil.example/", "/people/ada"):
        response = await post(ada, "/rooms/random/leave", {"back": odd}, page="/rooms/general")
        assert response.status_code == 303 and response.location == "/rooms", odd  # never followed
        await ada.room_page("random")


async def test_a_mention_is_a_link_marked_for_the_one_mentioned_and_counted_apart(ada: User, bob: User) -> None:
    await ada.room_page("random")
    await ada.room_page("general")
    await say(bob, "/rooms/random", "@ada look at this, and @nobody too")
    await say(bob, "/rooms/random", "plain news")
    page = await ada.room_page("general")
    assert sidebar(page)["/rooms/random"] == (2, 1)
    assert '<span class="badge badge-mention" title="Mentions of you">@1' in page
    uid = re.search(r'data-author="([^"]+)"', await bob.room_page("random")).group(1)  # bob's own uid
    random = await ada.room_page("random")
    ada_uid = re.search(r'class="msg[^"]*"[^>]*data-mentions="([^"]+)"', random).group(1)
    assert ada_uid != uid
    link = f'<a class="mention" href="/people/ada" data-uid="{ada_uid}">@ada</a>'
    assert f"{link} look at this, and @nobody too" in random
    mine = await (await ada.client.get("/me.css")).get_data(as_text=True)
    assert f'.msg[data-mentions~="{ada_uid}"]' in mine  # highlighted for ada
    theirs = await (await bob.client.get("/me.css")).get_data(as_text=True)
    assert ada_uid not in theirs  # and for nobody else


async def test_html_next_to_a_mention_stays_text(ada: User, bob: User) -> None:
    await say(bob, "/rooms/general", '<b>@ada</b> <img src=x onerror="alert(1)">')
    page = await ada.room_page("general")
    assert '&lt;b&gt;<a class="mention" href="/people/ada"' in page and "</a>&lt;/b&gt; &lt;img src=x" in page
    assert "<img src=x" not in page
