"""A handle that changes hands (review of issue 9, finding 1), on a real server and both stacks.

Alice opens her conversation with Bob at /dm/bob. Bob takes another handle and Carol takes "bob".
Alice's page is still open: its socket reconnecting and its form posting without JavaScript both
name /dm/bob, which now means Carol. Both are refused (1008, 409) saying why, nothing reaches Carol,
and the refused text can still go to Bob, from the 409 page, under his new handle.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import start_server
from tests.support.http_user import CSRF, RemoteUser, closed_with, csrf_token, page_fields, rows, ws_path
from tests.support.server import ChatServer

pytestmark = pytest.mark.server
MEANT_FOR_BOB = "the surprise party is on friday"
TEXTAREA = re.compile(r"<textarea[^>]*>([^<]*)</textarea>")
FORM = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


async def test_a_stale_page_of_a_handle_that_changed_hands_reaches_nobody_new(server: ChatServer) -> None:
    alice, bob, carol = [await RemoteUser(server.base, f"{n}@example.com").sign_up() for n in ("alice", "bob", "carol")]
    try:
        await alice.post_form("/dm/bob/messages", {"message": "hi bob"}, page="/dm/bob")
        stale = (await alice.http.get("/dm/bob")).text  # the page Alice leaves open
        stale_socket, stale_form = ws_path(stale), {**page_fields(stale), "csrf_token": csrf_token(stale, "/dm/bob")}
        assert "peer=" in stale_socket and stale_form.get("peer")
        async with alice.socket(path=stale_socket) as ws:  # it works while @bob is Bob
            assert "live-status live" in await ws.recv()

        assert (await bob.change_handle("bobby")).status_code == 303
        assert (await carol.change_handle("bob")).status_code == 303

        async with alice.socket(path=stale_socket) as ws:  # the page's socket reconnects
            code, last = await closed_with(ws, within=10)
        assert code == 1008 and "@bob now belongs to someone else" in last and "Reload" in last

        posted = await alice.http.post("/dm/bob/messages", data={**stale_form, "message": MEANT_FOR_BOB})
        assert posted.status_code == 409
        assert "Not sent." in posted.text and "@bob now belongs to someone else" in posted.text
        assert TEXTAREA.findall(posted.text) == [MEANT_FOR_BOB]  # the text is kept...
        assert FORM.findall(posted.text) == ["/dm/bobby/messages"]  # ...in a form to the person it was for
        assert "who is @bobby now" in posted.text

        # Nothing of it reached Carol: no conversation in either sidebar, and none to read.
        assert 'href="/dm/alice"' not in (await carol.http.get("/rooms/general")).text
        alice_sidebar = (await alice.http.get("/rooms/general")).text
        assert 'href="/dm/bobby"' in alice_sidebar and 'href="/dm/bob"' not in alice_sidebar
        for viewer, page in ((carol, "/dm/alice"), (alice, "/dm/bob")):  # Carol's conversation with Alice
            text = (await viewer.http.get(page)).text
            assert rows(text) == [] and MEANT_FOR_BOB not in text and "hi bob" not in text, page

        resend = {"csrf_token": CSRF.search(posted.text).group(1), **page_fields(posted.text)}  # type: ignore[union-attr]
        again = await alice.http.post("/dm/bobby/messages", data={**resend, "message": MEANT_FOR_BOB})
        assert again.status_code == 303 and again.headers["location"] == "/dm/bobby"
        assert [t for _, t in rows((await bob.http.get("/dm/alice")).text)] == ["hi bob", MEANT_FOR_BOB]
    finally:
        for user in (alice, bob, carol):
            await user.close()
