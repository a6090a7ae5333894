"""The per-person limits inside the app (issue 12, finding 2), in process: posts, sockets, both together."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from quart import Quart

from quart_chat.app import create_app
from quart_chat.web.context import app_services_of
from tests.conftest import User, csrf_from, make_client
from tests.test_live import frames_until, send


@pytest.fixture
async def strict(settings) -> AsyncIterator[Quart]:
    """Three messages at once, then one a minute; two sockets a person."""
    app = create_app(replace(settings, message_burst=3, messages_per_minute=1, max_sockets_per_person=2))
    async with app.test_app():
        yield app


async def post(user: User, text: str, client_id: str = "") -> tuple[int, str, str | None]:
    token = await csrf_from(user.client, "/rooms/general")
    form = {"message": text, "csrf_token": token, "client_id": client_id}
    response = await user.client.post("/rooms/general/messages", form=form)
    return response.status_code, await response.get_data(as_text=True), response.headers.get("Retry-After")


async def stored(app: Quart) -> list[str]:
    return [m.text for m in await app_services_of(app).store.latest("general", 50)]


async def test_no_js_posts_past_the_rate_get_429_with_the_text_kept(strict: Quart) -> None:
    ada = await User(make_client(strict), "ada@example.com").sign_up()
    answers = [await post(ada, f"post {i}") for i in range(5)]
    assert [status for status, _, _ in answers] == [303, 303, 303, 429, 429]
    _, page, retry_after = answers[3]
    assert retry_after is not None and int(retry_after) >= 1
    assert "You are sending too fast" in page
    assert re.search(r'<textarea name="message"[^>]*>post 3</textarea>', page)  # the typed text, to send again
    assert await stored(strict) == ["post 0", "post 1", "post 2"]


async def test_a_persons_sockets_and_posts_share_one_limit(strict: Quart) -> None:
    ada = await User(make_client(strict), "ada@example.com").sign_up()
    async with ada.socket() as ws:
        await ws.receive_within()
        for text in ("ws 1", "ws 2"):
            await ws.send(send(text))
        await frames_until(ws, lambda s: "ws 2" in s)
        assert (await post(ada, "post 1"))[0] == 303
        assert (await post(ada, "post 2"))[0] == 429  # the socket spent two of the three
        await ws.send(send("ws 3"))
        assert "You are sending too fast" in "".join(await frames_until(ws, lambda s: "too fast" in s))
    assert sorted(await stored(strict)) == ["post 1", "ws 1", "ws 2"]


async def test_one_socket_past_the_cap_is_refused_1008_and_a_closed_one_frees_its_place(strict: Quart) -> None:
    ada = await User(make_client(strict), "ada@example.com").sign_up()
    bob = await User(make_client(strict), "bob@example.com").sign_up()
    async with ada.socket() as one, ada.socket("random") as two:
        await one.receive_within()
        await two.receive_within()
        async with ada.socket() as third:
            said = await third.receive_any_within()
            closed = await third.closed_with()
        assert closed.code == 1008 and "open in too many tabs" in said
        async with bob.socket() as bobs:  # another person is not counted with ada
            assert "Live" in await bobs.receive_within()
    async with ada.socket() as again:  # the first two are closed: room again
        assert "Live" in await again.receive_within()
