"""Unread counts live, through Quart's test client and real sockets: a small fragment per page when a
message lands elsewhere, the title with it, reset when the place is read on another page; stored."""

from __future__ import annotations

import asyncio
import json
import re

from quart import Quart

from quart_chat.places import dom_id
from quart_chat.web.context import app_services_of
from tests.conftest import User
from tests.test_rooms_pages import sidebar

LINK_PARTIAL = re.compile(r'<hx-partial hx-target="#(nav-[0-9a-f]+)" hx-swap="outerHTML"[^>]*>(.*?)</hx-partial>', re.S)
WS_TITLE = re.compile(r"<head><title>([^<]*)</title></head>")


def send(text: str) -> str:
    return json.dumps({"message": text, "headers": {"HX-Request": "true"}})


class Badges:
    """A socket read in the background: the latest sidebar link fragment per place, and the title."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.links: dict[str, str] = {}
        self.titles: list[str] = []
        self.frames: list[str] = []
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            frame = await self.ws.receive_any_within(3600)
            self.frames.append(frame)
            for target, html in LINK_PARTIAL.findall(frame):
                self.links[target] = html
            self.titles += WS_TITLE.findall(frame)
            self.changed.set()

    def unread(self, place: str) -> tuple[int, int] | None:
        html = self.links.get(dom_id(place))
        if html is None:
            return None
        found = re.search(r'data-unread="(\d+)" data-mentions="(\d+)"', html)
        return int(found.group(1)), int(found.group(2))

    async def until(self, holds, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not holds():
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_a_message_elsewhere_raises_the_badge_and_the_title_and_reading_it_resets_them(
    app: Quart, ada: User, bob: User
) -> None:
    await ada.room_page("random")
    await ada.room_page("general")
    async with ada.socket("general") as on_general, bob.socket("random") as b:
        await b.receive_within()
        watch = Badges(on_general)
        await watch.until(lambda: any('id="sidebar"' in f for f in watch.frames))  # read after subscribing
        await b.send(send("@ada news in random"))
        await watch.until(lambda: watch.unread("random") == (1, 1))
        assert watch.titles[-1] == "(1) #general · quart-chat"
        assert not any("news in random" in f for f in watch.frames)  # a count, never the text
        await b.send(send("more news"))
        await watch.until(lambda: watch.unread("random") == (2, 1))
        assert watch.titles[-1] == "(2) #general · quart-chat"
        assert sidebar(await ada.room_page("general"))["/rooms/random"] == (2, 1)  # kept in the store
        async with ada.socket("random") as reading:  # ada opens #random in another tab
            await reading.receive_within()
            await watch.until(lambda: watch.unread("random") == (0, 0))
            assert watch.titles[-1] == "#general · quart-chat"
        await watch.close()
    assert sidebar(await ada.room_page("general"))["/rooms/random"] == (0, 0)


async def test_a_new_room_joined_on_another_page_appears_in_the_sidebar(app: Quart, ada: User) -> None:
    async with ada.socket("general") as ws:
        watch = Badges(ws)
        await watch.until(lambda: any('id="sidebar"' in f for f in watch.frames))
        await ada.room_page("design")  # opened in another tab: joined
        await watch.until(lambda: sum('id="sidebar"' in f for f in watch.frames) >= 2)
        assert 'href="/rooms/design"' in [f for f in watch.frames if 'id="sidebar"' in f][-1]
        await watch.close()


async def test_one_message_costs_one_member_list_read_however_many_members(app: Quart, ada: User, bob: User) -> None:
    services = app_services_of(app)
    for user in (ada, bob):
        await user.room_page("general")
    reads = services.members.reads
    async with bob.socket("general") as b:
        await b.receive_within()
        for i in range(5):
            await b.send(send(f"m{i}"))
        async with asyncio.timeout(5):
            while len(await services.store.latest("general", 10)) < 5:
                await asyncio.sleep(0.01)
    assert services.members.reads - reads <= 1  # cached: not a read per message, nor per member
