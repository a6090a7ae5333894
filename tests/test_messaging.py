"""The message path (validate, store, render once, publish) without an app, and sends that land once."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest
from quart import Quart

from quart_chat.hub import Broadcast
from quart_chat.messaging import send_message
from quart_chat.models import Identity
from quart_chat.services import Services, build_services
from quart_chat.settings import Settings
from quart_chat.validation import parse_frame
from quart_chat.web.context import app_services_of
from tests.conftest import User, csrf_from

CLIENT_ID = re.compile(r'name="client_id" value="([^"]+)"')
ADA = Identity("uid-ada", "ada@example.com")
BOB = Identity("uid-bob", "bob@example.com")


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    services = build_services(settings)
    await services.open()
    yield services
    await services.close()


async def test_a_frame_becomes_one_stored_row_rendered_once_and_published_with_no_app(services: Services) -> None:
    raw = json.dumps({"message": "  <b>hi</b>  ", "client_id": "c" * 22, "headers": {}})
    frame = parse_frame(raw, services.settings.max_message_chars, services.settings.max_frame_bytes)
    async with services.hub.subscribe("general") as sub:
        message = await send_message(services, "general", ADA, frame.text, client_id=frame.client_id)
        (published,) = sub.drain(10)
    assert await services.store.latest("general", 10) == [message]
    assert isinstance(published, Broadcast) and published.message_id == message.id
    html = published.html_for("UTC", services.renderer)
    assert published.row.message == message and html == services.renderer.row(published.row, "UTC")
    assert f'id="m-{message.id}"' in html and "&lt;b&gt;hi&lt;/b&gt;" in html


async def test_a_replayed_send_is_neither_stored_nor_published_again(services: Services) -> None:
    async with services.hub.subscribe("general") as sub:
        first = await send_message(services, "general", ADA, "once", client_id="x" * 22)
        again = await send_message(services, "general", ADA, "once", client_id="x" * 22)
        published = sub.drain(10)
    assert again == first and again.replayed
    assert [b.message_id for b in published] == [first.id]
    assert [m.text for m in await services.store.latest("general", 10)] == ["once"]


async def test_someone_elses_client_id_cannot_alter_or_claim_their_message(services: Services) -> None:
    ada_said = await send_message(services, "general", ADA, "ada's words", client_id="y" * 22)
    bob_said = await send_message(services, "general", BOB, "bob's words", client_id="y" * 22)
    assert bob_said.id != ada_said.id and not bob_said.replayed
    stored = await services.store.latest("general", 10)
    assert [(m.author_uid, m.text) for m in stored] == [("uid-ada", "ada's words"), ("uid-bob", "bob's words")]
    elsewhere = await send_message(services, "random", ADA, "same id, other room", client_id="y" * 22)
    assert elsewhere.room == "random" and not elsewhere.replayed  # an id is scoped to its room too


async def test_the_same_no_js_post_twice_stores_once(app: Quart, ada: User) -> None:
    page = await ada.room_page()
    form = {"message": "posted once", "client_id": CLIENT_ID.search(page).group(1)}
    form["csrf_token"] = await csrf_from(ada.client, "/rooms/general")
    for _ in range(2):  # the browser re-posts the form (back, resubmit)
        response = await ada.client.post("/rooms/general/messages", form=form)
        assert response.status_code == 303
    assert [m.text for m in await app_services_of(app).store.latest("general", 10)] == ["posted once"]
    bad = await ada.client.post("/rooms/general/messages", form=form | {"client_id": "<script>"})
    assert bad.status_code == 400


async def test_each_page_load_renders_a_fresh_client_id(ada: User) -> None:
    ids = [CLIENT_ID.search(await ada.room_page()).group(1) for _ in range(2)]
    assert ids[0] != ids[1]
