"""Presence and typing through Quart's test client: who is here, tabs counting once, typing shown and cleared."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from quart import Quart

from quart_chat.app import create_app
from quart_chat.presence.memory import MemoryPresence
from quart_chat.presence.room import RoomPresence
from quart_chat.settings import Settings
from quart_chat.web.context import app_services_of
from tests.conftest import User, make_client
from tests.support.net import until

TYPING_TIMEOUT = 0.3  # short, through the constructor: the real one is TYPING_TIMEOUT (5 s)
PARTIAL = re.compile(r'<hx-partial hx-target="#(presence|typing)"[^>]*>(.*?)</hx-partial>', re.S)
NAME = re.compile(r'<a href="/people/([^"]+)">([^<]*)</a>')
TYPIST = re.compile(r'<span class="typist" data-uid="([^"]+)">([^<]*)</span>')


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    app = create_app(replace(settings, message_burst=3, messages_per_minute=6))
    services = app_services_of(app)
    services.presence = RoomPresence(
        MemoryPresence(), services.hub, services.profiles, services.renderer, typing_timeout=TYPING_TIMEOUT
    )
    async with app.test_app():
        yield app


async def person(app: Quart, name: str) -> User:
    user = await User(make_client(app), f"{name}@example.com").sign_up()
    await user.room_page()  # the page made their profile (display name: the part before the @)
    return user


class Watch:
    """A socket read in the background: the latest #presence and #typing contents it was sent."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.latest: dict[str, str] = {}
        self.frames: list[str] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.ws.receive_any_within(3600)
            self.frames.append(frame)
            for target, html in PARTIAL.findall(frame):
                self.latest[target] = html
            self.changed.set()

    def people(self) -> list[str]:
        return [name for _, name in NAME.findall(self.latest.get("presence", ""))]

    def typists(self) -> list[tuple[str, str]]:
        return TYPIST.findall(self.latest.get("typing", ""))

    async def until(self, holds: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not holds():
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def typing_frame(draft: str = "Hel") -> str:
    return json.dumps({"message": draft, "typing": "1", "headers": {"HX-Request": "true"}})


def message(text: str) -> str:
    return json.dumps({"message": text, "headers": {"HX-Request": "true"}})


async def test_the_page_and_the_socket_list_who_is_here_each_person_once(app: Quart) -> None:
    ada, bob = await person(app, "ada"), await person(app, "bob")
    async with ada.socket() as a1, ada.socket() as a2, bob.socket() as b:
        watches = [Watch(ws) for ws in (a1, a2, b)]
        for watch in watches:
            await watch.until(lambda w=watch: w.people() == ["ada", "bob"])  # two tabs of ada: once
        page = await bob.room_page()
        region = page[page.index('id="presence"') :]
        region = region[: region.index("</section>")]
        assert NAME.findall(region) == [("ada", "ada"), ("bob", "bob")]
        assert 'aria-labelledby="presence-title"' in page and "@example.com" not in region
        assert [p.handle for p in await app_services_of(app).presence.people("general")] == ["ada", "bob"]
        for watch in watches:
            await watch.close()


async def test_leaving_updates_the_others_and_a_second_tab_closing_does_not(app: Quart) -> None:
    ada, bob = await person(app, "ada"), await person(app, "bob")
    async with ada.socket() as a:
        watch = Watch(a)
        async with bob.socket():
            async with bob.socket():  # a second tab of bob's opens and closes
                await watch.until(lambda: watch.people() == ["ada", "bob"])
            async with bob.socket():  # and a third
                pass
            services = app_services_of(app)
            await until(lambda: len(services.connections) == 2 and not services.presence._tasks)
            assert [p.handle for p in await services.presence.people("general")] == ["ada", "bob"]
            assert watch.people() == ["ada", "bob"]  # bob stayed throughout
        await watch.until(lambda: watch.people() == ["ada"])  # bob's last tab closed
        await watch.close()


async def test_typing_shows_to_the_others_is_hidden_from_the_typer_and_clears_on_send(app: Quart) -> None:
    ada, bob = await person(app, "ada"), await person(app, "bob")
    async with ada.socket() as a, bob.socket() as b:
        on_a, on_b = Watch(a), Watch(b)
        await on_b.until(lambda: on_b.people() == ["ada", "bob"])
        await a.send(typing_frame())
        await on_b.until(lambda: [name for _, name in on_b.typists()] == ["ada is typing…"])
        ada_uid = on_b.typists()[0][0]
        # Rendered once for the room: the typer's copy holds it too, and their stylesheet hides it.
        await on_a.until(lambda: [uid for uid, _ in on_a.typists()] == [ada_uid])
        hide = f'#typing [data-uid="{ada_uid}"]{{display:none}}'
        assert hide in await (await ada.client.get("/me.css")).get_data(as_text=True)
        assert hide not in await (await bob.client.get("/me.css")).get_data(as_text=True)
        await a.send(message("Hello"))
        await on_b.until(lambda: on_b.typists() == [])  # gone as soon as they send
        assert "Hello" in "".join(on_b.frames)
        stored = await app_services_of(app).store.latest("general", 10)
        assert [m.text for m in stored] == ["Hello"]  # the notice was never stored
        for watch in (on_a, on_b):
            await watch.close()


async def test_typing_clears_by_itself_after_the_timeout_and_on_an_emptied_draft(app: Quart) -> None:
    ada, bob = await person(app, "ada"), await person(app, "bob")
    async with ada.socket() as a, bob.socket() as b:
        on_b = Watch(b)
        await on_b.until(lambda: on_b.people() == ["ada", "bob"])
        await a.send(typing_frame())
        await on_b.until(lambda: len(on_b.typists()) == 1)
        loop = asyncio.get_running_loop()
        shown = loop.time()
        await on_b.until(lambda: on_b.typists() == [], timeout=TYPING_TIMEOUT * 10)
        assert loop.time() - shown >= TYPING_TIMEOUT * 0.5  # it stayed until the timeout, then went
        await a.send(typing_frame())
        await on_b.until(lambda: len(on_b.typists()) == 1)
        await a.send(typing_frame(draft="  "))  # the draft was emptied: stopped
        await on_b.until(lambda: on_b.typists() == [], timeout=TYPING_TIMEOUT * 0.9)
        await on_b.close()


async def test_a_flood_of_typing_notices_is_dropped_quietly_past_the_rate_limit(app: Quart) -> None:
    ada, bob = await person(app, "ada"), await person(app, "bob")
    services = app_services_of(app)
    heard: list[dict[str, str]] = []
    services.hub.on_signal(lambda room, data: heard.append(data))
    async with ada.socket() as a, bob.socket():
        watch = Watch(a)
        await watch.until(lambda: watch.people() == ["ada", "bob"])
        for _ in range(20):  # within the socket's frame budget (a burst of 30), past the typing rate
            await a.send(typing_frame())
        await a.send(message("still heard"))  # messages have their own bucket: not spent by typing
        await watch.until(lambda: "still heard" in "".join(watch.frames))
        assert sum(d.get("kind") == "typing" for d in heard) == 3  # the burst, then dropped
        assert 'hx-target="#composer-error"' not in "".join(watch.frames)  # quietly
        loopback = {"client": ("127.0.0.1", 50000)}  # /metrics answers loopback (web/metrics_access.py)
        metrics = await (await ada.client.get("/metrics", scope_base=loopback)).get_data(as_text=True)
        assert 'chat_messages_refused_total{reason="typing_rate_limited"} 17.0' in metrics
        await watch.close()
