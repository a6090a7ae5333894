"""A conversation's privacy, black-box: a real server (both stacks), plain HTTP and WebSockets, no browser.

Eve knows Ada's and Bob's uids (every row in #general carries its author's) and, for the test, even the
server's secret, so she can make the conversation's key. Every request of hers for that conversation
is a 404 (1008 on a socket), and nothing she is sent, on any socket or page, holds its text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from tests.support.backends import start_server
from tests.support.conversations import author_of, leaked_key
from tests.support.http_user import RemoteUser, closed_with, collect_rows, say
from tests.support.net import until
from tests.support.server import ChatServer

pytestmark = pytest.mark.server
SECRET = "the secret plan"


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


async def listen(ws: ClientConnection, heard: list[str]) -> None:
    async for frame in ws:
        heard.append(str(frame))


async def test_a_third_person_reaches_no_part_of_a_conversation_and_hears_none_of_it(server: ChatServer) -> None:
    ada, bob, eve = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("ada", "bob", "eve")]
    heard: list[str] = []  # everything sent to eve, on every socket and page
    try:
        for user in (ada, bob):
            await user.post_form("/rooms/general/messages", {"message": f"hello from {user.email[:3]}"})
        general = (await eve.http.get("/rooms/general")).text
        key = leaked_key(server.data_dir, author_of(general, "hello from ada"), author_of(general, "hello from bob"))
        async with (
            eve.socket("general") as eve_general,
            eve.socket(path=await eve.ws_path("/dm/ada")) as eve_ada,
            eve.socket(path=await eve.ws_path("/dm/bob")) as eve_bob,
            ada.socket(path=await ada.ws_path("/dm/bob")) as a,
            bob.socket(path=await bob.ws_path("/dm/ada")) as b,
        ):
            listeners = [asyncio.create_task(listen(ws, heard)) for ws in (eve_general, eve_ada, eve_bob)]
            await a.recv()
            await b.recv()
            await say(a, SECRET)  # live, over the socket
            for ws in (a, b):
                assert [text for _, text in await collect_rows(ws, 1)] == [SECRET]
            posted = await bob.post_form("/dm/ada/messages", {"message": f"{SECRET}, agreed"}, page="/dm/ada")
            assert posted.status_code == 303  # and without JavaScript
            assert [text for _, text in await collect_rows(a, 1)] == [f"{SECRET}, agreed"]

            for path in (f"/rooms/{key}", f"/rooms/{key}/history?before=00000000000000000-0", f"/dm/{key}"):
                response = await eve.http.get(path)
                heard.append(response.text)
                assert response.status_code == 404, path
            for path in (f"/rooms/{key}/messages", f"/rooms/{key}/leave", f"/dm/{key}/messages"):
                response = await eve.post_form(path, {"message": "let me in", "back": "/rooms/general"})
                heard.append(response.text)
                assert response.status_code == 404, path
            for page in (f"/rooms/{key}", f"/dm/{key}"):
                async with eve.socket(page=page) as knock:
                    code, last = await closed_with(knock, within=10)
                heard.append(last)
                assert code == 1008, page
            for path in ("/rooms/general", "/dm/ada", "/dm/bob", "/rooms"):  # her own pages
                heard.append((await eve.http.get(path)).text)
            # A barrier on each of her sockets: a socket's frames come in order, so once her own
            # "over" comes back on all three, whatever was sent to them before has arrived.
            for ws in (eve_general, eve_ada, eve_bob):
                await say(ws, "over")
            await until(lambda: sum(h.count(">over</span>") for h in heard) >= 3, what="eve's own rows")
            for task in listeners:
                task.cancel()
        assert heard and not [h for h in heard if SECRET in h]
        theirs = (await ada.http.get("/dm/bob")).text
        assert SECRET in theirs and "let me in" not in theirs  # nothing of hers got in either
    finally:
        for user in (ada, bob, eve):
            await user.close()
