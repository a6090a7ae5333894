"""A user of a real server: HTTP forms with httpx, the live room with the websockets client."""

from __future__ import annotations

import asyncio
import html
import json
import re
from dataclasses import dataclass, field

import httpx
from itsdangerous import URLSafeTimedSerializer
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PEER = re.compile(r'name="peer" value="([^"]+)"')  # a conversation's page check (places.page_check)
WS_PATH = re.compile(r'hx-ws:connect="([^"]+)"')
ROW = re.compile(r'<li class="msg[^"]*" id="m-([^"]+)"[^>]*>.*?<span class="text">(.*?)</span></li>', re.S)


def csrf_token(page: str, where: str) -> str:
    """The form's CSRF token on ``page``; fails, naming ``where``, if there is none."""
    match = CSRF.search(page)
    assert match, f"no csrf_token on {where}"
    return match.group(1)


def page_fields(page: str) -> dict[str, str]:
    """The hidden fields a place's forms add besides the CSRF token: a conversation's ``peer``."""
    match = PEER.search(page)
    return {"peer": match.group(1)} if match else {}


def ws_path(page: str) -> str:
    """The socket address a place's page connects to (with its query: ``after``, a conversation's ``peer``)."""
    match = WS_PATH.search(page)
    assert match, "no hx-ws:connect on the page"
    return html.unescape(match.group(1))


def rows(frame: str) -> list[tuple[str, str]]:
    """(message id, text) for each row in a frame."""
    return ROW.findall(frame)


@dataclass
class RemoteUser:
    base: str
    email: str
    password: str = "correct horse"
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=self.base, timeout=10)

    async def _form(self, path: str, data: dict[str, str]) -> httpx.Response:
        page = await self.http.get(path)
        token = csrf_token(page.text, f"{path}: {page.status_code}")
        return await self.http.post(path, data={**data, "csrf_token": token})

    async def sign_up(self) -> RemoteUser:
        response = await self._form("/signup", {"email": self.email, "password": self.password})
        assert response.status_code == 303, response.text
        return self

    async def log_in(self) -> RemoteUser:
        response = await self._form("/login", {"email": self.email, "password": self.password})
        assert response.status_code == 303, response.text
        return self

    async def post_form(self, path: str, data: dict[str, str], page: str = "/rooms/general") -> httpx.Response:
        """POST a form with the CSRF token (and a conversation's ``peer``) of ``page``, as its form would."""
        text = (await self.http.get(page)).text
        return await self.http.post(path, data={**page_fields(text), **data, "csrf_token": csrf_token(text, page)})

    async def change_handle(self, handle: str) -> httpx.Response:
        """Save /settings with a new handle, every other field as the form shows it."""
        page = (await self.http.get("/settings")).text
        values = {
            "display_name": re.search(r'name="display_name" value="([^"]*)"', page).group(1),  # type: ignore[union-attr]
            "colour": re.search(r'name="colour" value="([^"]*)" checked', page).group(1),  # type: ignore[union-attr]
            "time_zone": re.search(r'<option value="([^"]*)" selected>', page).group(1),  # type: ignore[union-attr]
        }
        data = {**{k: html.unescape(v) for k, v in values.items()}, "handle": handle}
        return await self.http.post("/settings", data={**data, "csrf_token": csrf_token(page, "/settings")})

    async def ws_path(self, page: str) -> str:
        """The socket address ``page`` connects to, as the browser takes it from the page."""
        return ws_path((await self.http.get(page)).text)

    async def log_out(self) -> httpx.Response:
        """Log out with the form on a room page (CSRF and all)."""
        page = await self.http.get("/rooms/general")
        response = await self.http.post("/logout", data={"csrf_token": csrf_token(page.text, "/rooms/general")})
        assert response.status_code == 303, response.text
        return response

    def session_token(self) -> str:
        """The identity provider's token inside this browser's session cookie (read, not verified)."""
        cookie = self.http.cookies.get("quart_chat_session") or ""
        _, payload = URLSafeTimedSerializer("unused").loads_unsafe(cookie)
        return str((payload or {}).get("tok", ""))

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)

    def socket(
        self,
        room: str = "general",
        after: str | None = None,
        origin: str | None = None,
        base: str | None = None,
        max_queue: int | None = 16,
        page: str | None = None,
        path: str | None = None,
    ):
        """Open the room's socket (or the socket of ``page``, e.g. ``/dm/bob``) on this user's server,
        or on ``base`` (another instance, same cookies). ``path``: the socket's whole address with its
        query, as a page gave it (``ws_path``); a conversation's socket needs its page's ``peer``.

        ``max_queue``: frames the client buffers unread before it stops reading (websockets' default, 16);
        a test that leaves many frames unread passes None, or the server's close is not read either.
        """
        base = base or self.base
        ws_base = base.replace("http://", "ws://", 1)
        url = f"{ws_base}{page or f'/rooms/{room}'}/ws" + (f"?after={after}" if after else "")
        if path is not None:
            url = ws_base + path
        return connect(
            url,
            additional_headers={"Cookie": self.cookie_header()},
            origin=origin or base,  # type: ignore[arg-type]
            open_timeout=10,
            max_size=2**22,
            max_queue=max_queue,
        )

    async def close(self) -> None:
        await self.http.aclose()


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"message": text, "headers": {"HX-Request": "true"}}))


async def collect_rows(ws: ClientConnection, until: int, timeout: float = 10.0) -> list[tuple[str, str]]:
    """Read frames until ``until`` distinct message rows have arrived (duplicates are kept, to be counted)."""
    got: list[tuple[str, str]] = []
    async with asyncio.timeout(timeout):
        while len({mid for mid, _ in got}) < until:
            got.extend(rows(await ws.recv()))
    return got


async def read_until_closed(ws: ClientConnection, within: float = 10.0) -> tuple[int, str, list[str]]:
    """Every frame until the server closes the socket, with its close code and reason."""
    frames: list[str] = []
    try:
        async with asyncio.timeout(within):
            while True:
                frames.append(str(await ws.recv()))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server did not close the socket"
        return closed.rcvd.code, closed.rcvd.reason, frames


async def closed_with(ws: ClientConnection, within: float) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and everything it sent last."""
    code, _, frames = await read_until_closed(ws, within)
    return code, "".join(frames[-3:])


async def submit(who: RemoteUser, path: str, email: str, password: str) -> httpx.Response:
    """Fill in and post a sign-up or log-in form (``path``) as ``who``, with the page's CSRF token."""
    page = await who.http.get(path)
    token = csrf_token(page.text, f"{path}: {page.status_code}")
    return await who.http.post(path, data={"email": email, "password": password, "csrf_token": token})
