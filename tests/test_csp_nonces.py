"""CSP nonces against a real server: a fresh one per HTML response, on every hx-* element, and the
socket stamping the nonce of the page that opened it (htmx's hx-csp strips any element without it).

hx-csp reads the page's nonce from a ``script[nonce]``, runs trigger filters (the composer's Enter)
as scripts bearing it, and strips the hx-* attributes of every element whose ``hx-nonce`` differs.
So an element that misses it, or a socket frame with another page's nonce, is a dead control.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from quart_chat import nonces
from quart_chat.places import Place
from quart_chat.rendering import Renderer
from quart_chat.sidebar import Entry
from tests.support.backends import start_server
from tests.support.http_user import RemoteUser, say, ws_path
from tests.support.server import ChatServer

NONCE_IN_CSP = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'(?:;|$)")
RENDERER = Renderer()


class HxElements(HTMLParser):
    """Every start tag with an hx-* attribute (other than hx-nonce), with its hx-nonce if any;
    and every script tag's nonce."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.script_nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.script_nonces.append(values.get("nonce"))
        if any(name.startswith(("hx-", "data-hx-")) and name != "hx-nonce" for name in values):
            self.elements.append((tag, values))


def hx_elements(html: str) -> HxElements:
    parser = HxElements()
    parser.feed(html)
    parser.close()
    return parser


def assert_all_stamped(html: str, nonce: str, where: str) -> int:
    """Every hx-* element of ``html`` carries ``hx-nonce=nonce``; how many there were."""
    found = hx_elements(html)
    unstamped = [(tag, attrs) for tag, attrs in found.elements if attrs.get("hx-nonce") != nonce]
    assert not unstamped, f"{where}: hx-* elements without hx-nonce={nonce!r}: {unstamped}"
    return len(found.elements)


def csp_nonce(response: httpx.Response) -> str:
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-" not in csp, csp
    match = NONCE_IN_CSP.search(csp)
    assert match, f"no nonce in script-src: {csp}"
    assert nonces.valid(match.group(1)), match.group(1)
    return match.group(1)


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]) -> Iterator[ChatServer]:
    """A small history page, so three messages make a "Load older" link."""
    srv = start_server(tmp_path / "data", backend, CHAT_HISTORY_PAGE_SIZE="2")
    yield srv
    srv.kill()


def test_stamp_replaces_the_placeholder_with_a_nonce_of_ours_only() -> None:
    nonce = nonces.new_nonce()
    assert nonces.valid(nonce) and nonce != nonces.new_nonce()
    html = f'<a hx-get="/x" hx-nonce="{nonces.PLACEHOLDER}"></a><b hx-nonce="{nonces.PLACEHOLDER}"></b>'
    assert nonces.stamp(html, nonce) == f'<a hx-get="/x" hx-nonce="{nonce}"></a><b hx-nonce="{nonce}"></b>'
    injected = '"><script>alert(1)</script>'[:24]
    for bad in (None, "", "short", nonce + "x", nonce[:-1] + "=", injected, nonce[:-1] + "\n"):
        assert nonces.stamp(html, bad) == html, bad
    assert not nonces.valid(nonces.PLACEHOLDER)  # an unstamped element never passes hx-csp's check


def test_every_live_fragment_carries_the_placeholder_on_its_hx_elements() -> None:
    place = Place.room("general")
    entry = Entry(key="general", kind="room", label="#general", path="/rooms/general", unread=1)
    fragments = {
        "composer": RENDERER.composer("#general", 2000, action="/rooms/general/messages", csrf="c", client_id="i"),
        "composer kept": RENDERER.composer(
            "#general", 2000, action="/a", csrf="c", client_id="i", text="t", error="e", to_bottom=True
        ),
        "reset": RENDERER.reset(place, [], has_older=True),
        "signed out": RENDERER.signed_out("/login"),
        "status": RENDERER.status("live"),
        "jump": RENDERER.jump(has_new=True),
        "presence": RENDERER.presence([]),
        "typing": RENDERER.typing([]),
        "sidebar": RENDERER.sidebar([entry], current="general", csrf="c", back="/rooms/general"),
        "sidebar link": RENDERER.sidebar_link(entry, current="general"),
    }
    counted = sum(assert_all_stamped(html, nonces.PLACEHOLDER, name) for name, html in fragments.items())
    assert counted >= len(fragments) + 2  # each partial wrapper, and the composer's form and field


async def test_every_html_response_has_a_fresh_nonce_on_its_scripts_and_hx_elements(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    seen: set[str] = set()
    try:
        for i in range(3):
            assert (await ada.post_form("/rooms/general/messages", {"message": f"hello {i}"})).status_code == 303
        room = await ada.http.get("/rooms/general")
        older = re.search(r'<a href="([^"]+)"\s+hx-get=', room.text)
        assert older, "no Load older link"
        mid = re.search(r'id="m-([^"]+)"[^>]*>.*?hello 2', room.text, re.S)
        assert mid
        handle = re.search(r'name="handle" value="([^"]+)"', (await ada.http.get("/settings")).text)
        assert handle
        htmx = {"HX-Request": "true"}
        responses = {
            "room": room,
            "room again": await ada.http.get("/rooms/general"),
            "conversation": await ada.http.get(f"/dm/{handle.group(1)}"),
            "history fragment": await ada.http.get(older.group(1).replace("&amp;", "&"), headers=htmx),
            "history page": await ada.http.get(older.group(1).replace("&amp;", "&")),
            "edit fragment": await ada.http.get(f"/rooms/general/messages/{mid.group(1)}/edit", headers=htmx),
            "edit page": await ada.http.get(f"/rooms/general/messages/{mid.group(1)}/edit"),
            "directory": await ada.http.get("/rooms"),
            "settings": await ada.http.get("/settings"),
            "profile": await ada.http.get(f"/people/{handle.group(1)}"),
            "not found": await ada.http.get("/rooms/general/nothing-here"),
            "sign-up": await RemoteUser(server.base, "x@example.com").http.get("/signup"),
            "log-in": await RemoteUser(server.base, "y@example.com").http.get("/login"),
        }
        stamped = 0
        for name, response in responses.items():
            assert response.headers["content-type"].startswith("text/html"), name
            nonce = csp_nonce(response)
            assert nonce not in seen, f"{name}: a nonce used twice"
            seen.add(nonce)
            assert nonces.PLACEHOLDER not in response.text, name
            found = hx_elements(response.text)
            if "fragment" not in name:
                assert found.script_nonces and set(found.script_nonces) == {nonce}, name
            stamped += assert_all_stamped(response.text, nonce, name)
        assert stamped >= 10  # the socket, composer, field, Load older, rows' Edit links, the edit forms
        # The page's socket address names the page's nonce, for the socket to stamp.
        assert f"n={csp_nonce(room)}" in ws_path(room.text)
    finally:
        await ada.close()


async def test_the_socket_stamps_its_pages_nonce_and_never_echoes_a_malformed_one(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada@example.com").sign_up()
    try:
        page = await ada.http.get("/rooms/general")
        nonce = csp_nonce(page)
        path = ws_path(page.text)
        async with ada.socket(path=path) as ws:
            first = str(await ws.recv())
            await say(ws, "stamped")
            frames = [first]
            while "stamped" not in frames[-1]:
                frames.append(str(await ws.recv()))
        live = "".join(frames)
        assert nonces.PLACEHOLDER not in live
        assert assert_all_stamped(live, nonce, "live frames") >= 3  # partials, the row's Edit link, the composer
        assert re.search(rf'class="own-edit"[^>]*hx-nonce="{nonce}"', live)

        bad = "%22%3E%3Cscript%3Ex%3C/script%3E"  # '"><script>x</script>': never echoed into HTML
        async with ada.socket(path=path.replace(f"n={nonce}", f"n={bad}")) as ws:
            frame = str(await ws.recv())
        assert "<script>" not in frame and nonce not in frame
        assert nonces.PLACEHOLDER in frame  # left unstamped: hx-csp leaves those elements inert
    finally:
        await ada.close()
