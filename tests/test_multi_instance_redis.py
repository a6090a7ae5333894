"""Two real app instances (Hypercorn processes) on one real Redis: CHAT_HUB=redis as deployed.

Both share one data folder (SQLite store, accounts and the generated secret key), like several
processes on one machine, booted at the same moment on an empty folder; a user on instance one chats
with a user on instance two. Needs the web app (tests/support/server.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from quart_chat.places import dom_id
from tests.support.http_user import RemoteUser, closed_with, collect_rows, say
from tests.support.live_page import Tab, store_order, until_pages_hold, until_stored
from tests.support.net import until
from tests.support.redis_server import RedisServer
from tests.support.server import ChatServer, running

pytestmark = pytest.mark.server

# Senders in these tests type (and paste) faster than a person; the limits themselves are tested in
# test_limits_server.py and test_limits_two_instances.py.
FAST = {"CHAT_MESSAGES_PER_MINUTE": "60000", "CHAT_MESSAGE_BURST": "1000", "CHAT_FRAMES_PER_MINUTE": "60000"}


@pytest.fixture
def instances(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[ChatServer, ChatServer]]:
    env = {"CHAT_HUB": "redis", "CHAT_REDIS_URL": redis_server.url}  # no CHAT_SECRET_KEY: the folder's
    env |= FAST
    with running(ChatServer(tmp_path / "data", **env), ChatServer(tmp_path / "data", **env)) as (one, two):
        yield one, two


@pytest.fixture
async def four_tabs(instances: tuple[ChatServer, ChatServer]) -> AsyncIterator[list[Tab]]:
    """ada and cy on instance one, bob and di on two, each with the room open."""
    one, two = instances
    users = [
        await RemoteUser(base, f"{name}@example.com").sign_up()
        for name, base in (("ada", one.base), ("bob", two.base), ("cy", one.base), ("di", two.base))
    ]
    tabs = [await Tab(user).open() for user in users]
    yield tabs
    for tab in tabs:
        await tab.close()
    for user in users:
        await user.close()


def texts(got: list[tuple[str, str]]) -> list[str]:
    return [text for _, text in got]


async def ready(server: ChatServer) -> int:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(server.base + "/readyz")).status_code


async def until_ready(server: ChatServer, status: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while await ready(server) != status:
            await asyncio.sleep(0.05)


async def test_users_on_two_instances_chat_live_each_row_once(
    instances: tuple[ChatServer, ChatServer],
) -> None:
    one, two = instances
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    bob = await RemoteUser(two.base, "bob@example.com").sign_up()
    try:
        async with ada.socket() as a, bob.socket() as b:
            await a.recv()  # catch-up and status
            await b.recv()
            for i in range(5):
                await say(a, f"ada {i}")
                await say(b, f"bob {i}")
            expected = {f"ada {i}" for i in range(5)} | {f"bob {i}" for i in range(5)}
            for ws in (a, b):
                got = texts(await collect_rows(ws, 10))
                assert len(got) == 10 and set(got) == expected  # every row, each once
                # Each sender's rows keep their order (rows from the two instances may interleave
                # differently on each socket; the store's order is what a reload shows).
                for author in ("ada", "bob"):
                    assert [t for t in got if t.startswith(author)] == [f"{author} {i}" for i in range(5)]
    finally:
        await ada.close()
        await bob.close()


async def test_a_redis_outage_loses_no_row(instances: tuple[ChatServer, ChatServer], redis_server: RedisServer) -> None:
    """Rows stored while Redis is down reach the other instance's sockets once it is back."""
    one, two = instances
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    bob = await RemoteUser(two.base, "bob@example.com").sign_up()
    try:
        async with ada.socket() as a, bob.socket() as b:
            await a.recv()
            await b.recv()
            await say(a, "before")
            assert texts(await collect_rows(b, 1)) == ["before"]
            assert texts(await collect_rows(a, 1)) == ["before"]

            redis_server.stop()
            await until_ready(one, 503)  # /readyz reports the degraded hub; /healthz stays 200
            assert (await ada.http.get("/healthz")).status_code == 200
            await say(a, "during")
            assert texts(await collect_rows(a, 1)) == ["during"]  # local delivery without Redis

            await asyncio.to_thread(redis_server.start)
            await until_ready(one, 200)
            await until_ready(two, 200)
            assert texts(await collect_rows(b, 1, timeout=10)) == ["during"]  # resynced from the store

            await say(b, "after")
            assert texts(await collect_rows(a, 1)) == ["after"]
            assert texts(await collect_rows(b, 1)) == ["after"]
    finally:
        await ada.close()
        await bob.close()


async def keep_sending(tab: Tab, prefix: str, count: int, interval: float) -> int:
    """A user typing steadily; returns how many frames went out on an open socket."""
    sent = 0
    for i in range(count):
        sent += await tab.say(f"{prefix} {i}")
        await asyncio.sleep(interval)  # the typing pace is the load under test, not a wait
    return sent


def texts_on(tab: Tab, prefix: str) -> int:
    return sum(text.startswith(prefix) for _, text in tab.page.rows.values())


async def test_redis_killed_mid_stream_every_client_ends_with_the_stored_sequence(
    instances: tuple[ChatServer, ChatServer], redis_server: RedisServer, four_tabs: list[Tab]
) -> None:
    """Both instances keep sending through a Redis crash and restart; no client reconnects, none is left behind."""
    one, two = instances
    ada, bob, cy, di = four_tabs  # ada sends on one, bob on two; cy listens on one, di on two
    senders = [
        asyncio.create_task(keep_sending(ada, "ada", 60, 0.03)),
        asyncio.create_task(keep_sending(bob, "bob", 60, 0.03)),
    ]
    # Mid-stream: both senders' rows are crossing between the instances.
    await until(lambda: texts_on(cy, "bob") >= 5 and texts_on(di, "ada") >= 5, what="rows crossing instances")
    redis_server.stop()  # SIGKILL, mid-stream
    await until_ready(one, 503)
    await until_ready(two, 503)
    # bob pastes a long text in lines: two's sockets get far more local rows than the few
    # a socket looks back on a resync, after ada's rows they never got.
    for i in range(80):
        await bob.say(f"paste {i}")
    await until(lambda: texts_on(di, "paste") == 80, what="the paste delivered locally on two")
    await asyncio.to_thread(redis_server.start)
    assert await asyncio.gather(*senders) == [60, 60]  # nobody's socket dropped

    expected = await until_stored(cy.user, 200)  # every frame was stored, outage or not
    await until_pages_hold(four_tabs, expected)
    for tab in four_tabs:
        assert tab.page.duplicates() == {}, tab.user.email  # each row sent once per socket
        assert tab.page.resets == 0 and tab.close_codes == [] and tab.reconnects == 0
    assert await ready(one) == 200 and await ready(two) == 200


async def test_an_instance_killed_mid_stream_its_clients_catch_up_on_the_survivor(
    instances: tuple[ChatServer, ChatServer], four_tabs: list[Tab]
) -> None:
    """SIGKILL one instance while the room is busy: the other's clients never notice; the killed one's
    clients reconnect to the survivor with their page's cursor and end with exactly the store's rows."""
    one, two = instances
    ada, bob, cy, di = four_tabs  # ada sends on one all along, bob on two and then on one
    for tab in (bob, di):  # (cy listens on one, di on two and then on one)
        tab.fallback = one.base  # what the load balancer does once two is gone
    steady = asyncio.create_task(keep_sending(ada, "ada", 60, 0.03))
    for i in range(10):
        assert await bob.say(f"bob {i}")
        await asyncio.sleep(0.03)  # bob's typing pace, while ada's rows keep flowing
    # Kill two between bob's messages (see docs/scale-out.md for a row caught mid-publish),
    # while ada's rows keep flowing to di through it.
    await until(lambda: all(tab.page.rows.keys() >= bob.page.rows.keys() for tab in (ada, cy)), timeout=5)
    two.kill()  # SIGKILL by pid
    await until(lambda: bob.reconnects >= 1 and di.reconnects >= 1 and bob.connected.is_set() and di.connected.is_set())
    for i in range(10, 30):
        assert await bob.say(f"bob {i}")
        await asyncio.sleep(0.03)  # bob's typing pace
    assert await steady == 60  # ada's socket never dropped

    expected = await until_stored(cy.user, 90)
    await until_pages_hold(four_tabs, expected)
    for tab in (ada, cy):  # unaffected: one socket all along, every row exactly once
        assert tab.close_codes == [] and tab.reconnects == 0 and tab.page.duplicates() == {}
    for tab in (bob, di):
        assert tab.close_codes == [1006] and tab.reconnects == 1 and tab.page.resets == 0


async def test_processes_sharing_a_data_folder_share_one_key_one_database_one_order(
    instances: tuple[ChatServer, ChatServer],
) -> None:
    """Two processes booted together on an empty folder: one secret key, one WAL database, one id order."""
    one, two = instances
    data = one.data_dir
    key = data / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_text().strip()) > 40
    assert [p.name for p in data.glob("*.sqlite3")] and all(
        sqlite3.connect(p).execute("PRAGMA journal_mode").fetchone()[0] == "wal" for p in data.glob("*.sqlite3")
    )

    ada = await RemoteUser(one.base, "ada@example.com").sign_up()  # signed in by instance one
    bob = await RemoteUser(two.base, "bob@example.com").sign_up()
    try:
        on_two = await ada.http.get(two.base + "/rooms/general")  # the same cookie, on instance two
        assert on_two.status_code == 200 and '<a id="whoami" href="/settings">ada</a>' in on_two.text
        async with ada.socket(base=two.base) as a, bob.socket(base=one.base) as b:
            await a.recv()
            await b.recv()
            await asyncio.gather(*(say(ws, f"{name} {i}") for i in range(20) for name, ws in (("a", a), ("b", b))))
            for ws in (a, b):  # read all: a socket with unread frames closes slowly
                assert len(await collect_rows(ws, 40)) == 40
        order_one, order_two = await store_order(ada, base=one.base), await store_order(bob, base=two.base)
        assert order_one == order_two and len(order_one) == 40
        with sqlite3.connect(data / "chat.sqlite3") as db:
            rows = db.execute("SELECT id, created_us FROM messages ORDER BY id").fetchall()
        assert [str(mid) for mid, _ in rows] == order_one  # the pages' order is the ids' order
        times = [created for _, created in rows]
        assert all(a < b for a, b in itertools.pairwise(times))  # and server time agrees
    finally:
        await ada.close()
        await bob.close()


PARTIAL = re.compile(r'<hx-partial hx-target="#(presence|typing)"[^>]*>(.*?)</hx-partial>', re.S)


async def until_room_state(ws, target: str, holds, timeout: float = 10.0) -> str:
    """Read frames until the latest #presence or #typing content sent satisfies ``holds``."""
    latest = None
    async with asyncio.timeout(timeout):
        while latest is None or not holds(latest):
            for kind, html in PARTIAL.findall(str(await ws.recv())):
                if kind == target:
                    latest = html
    return latest


async def test_presence_and_typing_cross_instances(instances: tuple[ChatServer, ChatServer]) -> None:
    one, two = instances
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    bob = await RemoteUser(two.base, "bob@example.com").sign_up()
    try:
        for user in (ada, bob):
            assert (await user.http.get("/rooms/general")).status_code == 200  # makes the profile
        async with ada.socket() as a:
            async with bob.socket() as b:
                await until_room_state(a, "presence", lambda h: "/people/ada" in h and "/people/bob" in h)
                await b.send(json.dumps({"message": "Hi A", "typing": "1", "headers": {}}))
                shown = await until_room_state(a, "typing", lambda h: "bob is typing…" in h)
                assert "@example.com" not in shown
                await say(b, "Hi Ada")
                await until_room_state(a, "typing", lambda h: "is typing" not in h)  # cleared on send
            await until_room_state(a, "presence", lambda h: "/people/bob" not in h)  # bob's tab closed
    finally:
        await ada.close()
        await bob.close()


async def test_logging_out_on_one_instance_closes_that_sessions_sockets_on_the_other_at_once(
    instances: tuple[ChatServer, ChatServer],
) -> None:
    """Issue 12, finding 8: the sign-out reaches every instance through the person's hub channel, so a
    socket of the ended session on another instance closes now, not at its next revocation check
    (CHAT_REVOCATION_CHECK_INTERVAL, 300 s here), while her other session's socket stays open."""
    one, two = instances
    ada = await RemoteUser(one.base, "ada@example.com").sign_up()
    laptop = await RemoteUser(one.base, "ada@example.com").log_in()  # another session of hers
    try:
        async with ada.socket(base=two.base) as signed_off, laptop.socket(base=two.base) as kept:
            await signed_off.recv()
            await kept.recv()
            await ada.log_out()  # on instance one
            code, last = await closed_with(signed_off, within=5)
            assert code == 1008 and "You are signed out." in last
            await say(kept, "still here")
            assert [text for _, text in await collect_rows(kept, 1)] == ["still here"]
        assert (await ada.http.get(two.base + "/rooms/general")).status_code == 303  # her pages know it too
    finally:
        await ada.close()
        await laptop.close()


async def test_an_unread_badge_rises_on_instance_two_for_a_message_posted_through_instance_one(
    instances: tuple[ChatServer, ChatServer],
) -> None:
    """Issue 9: the sidebar's notice crosses instances on the person's hub channel."""
    one, two = instances
    ada = await RemoteUser(two.base, "ada@example.com").sign_up()
    bob = await RemoteUser(one.base, "bob@example.com").sign_up()
    link = re.compile(rf'hx-target="#{dom_id("random")}"[^>]*><a [^>]*data-unread="(\d+)" data-mentions="(\d+)"')
    try:
        assert (await ada.http.get("/rooms/random")).status_code == 200  # ada joins #random, on two
        async with ada.socket("general") as a, bob.socket("random") as b:  # she reads #general on two
            await a.recv()
            await b.recv()
            await say(b, "@ada over here")  # bob posts on one
            seen = ""
            async with asyncio.timeout(10):
                while not link.search(seen):
                    seen += str(await a.recv())
            assert link.search(seen).groups() == ("1", "1")
            assert "<title>(1) #general · quart-chat</title>" in seen and "over here" not in seen
        page = (await ada.http.get(one.base + "/rooms/general")).text  # and it is stored: on one too
        assert re.search(r'href="/rooms/random" data-unread="1" data-mentions="1"', page)
    finally:
        await ada.close()
        await bob.close()
