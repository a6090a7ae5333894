"""Issue 12, finding 6: arbitrary query strings, form bodies and WebSocket frames against a real server.

Hypothesis makes the input (a fixed seed and a bounded budget in CI: the "ci" profile in
tests/conftest.py); one real server (Hypercorn, httpx, websockets) takes all of it, on every route.
Whatever comes in, the answer is never a 5xx, a socket is only ever closed with one of the codes
in close_codes.py, and at the end the server is still healthy and its log holds no traceback.

Each route's parameters start from values that work and the fuzz swaps some of them, so input gets
past the first check to the code behind it. Two inputs that a fuzzed query string or form rarely
keeps in shape have their own tests: a history cursor, and ``next`` on a sign-in that succeeds (both
found the old 500s). Each socket example ends with a probe message: its row coming back proves the
reader got through every fuzzed frame before it (a reader that died on one closed the socket with 1000).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from quart_chat.close_codes import Close
from tests.support.http_user import csrf_token
from tests.support.server import LIMITS_LIFTED, ChatServer

pytestmark = pytest.mark.server

HTTP_EXAMPLES = 200
FOCUSED_EXAMPLES = 60
SOCKET_EXAMPLES = 250
DOCUMENTED_CLOSES = {int(code) for code in Close}
# Hypercorn closes a keep-alive connection after any response that left the request body unread (a
# redirect to log in, say) without saying so ahead; a browser retries on a new one, httpx raises
# instead. That is not what is under test here, so every request gets a connection of its own.
ONE_CONNECTION_PER_REQUEST = httpx.Limits(max_keepalive_connections=0)


@dataclass
class Site:
    server: ChatServer
    me: httpx.Client  # signed in
    csrf: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for every example; abuse limits out of the way, so each probe is answered by its row
    and a sign-in with the right password after many fuzzed wrong ones is not held back."""
    data = tmp_path_factory.mktemp("fuzz") / "data"
    server = ChatServer(data, **LIMITS_LIFTED).start()
    me = httpx.Client(base_url=server.base, timeout=15, limits=ONE_CONNECTION_PER_REQUEST)
    page = me.get("/signup")
    form = {"email": "fuzz@example.com", "password": "fuzz password", "csrf_token": csrf_token(page.text, "/signup")}
    assert me.post("/signup", data=form).status_code == 303
    token = csrf_token(me.get("/settings").text, "/settings")
    try:
        yield Site(server, me, token)
        assert me.get("/healthz").status_code == 200
        assert me.get("/rooms/general").status_code == 200  # still signed in: nothing fuzzed ended the session
    finally:
        me.close()
        server.kill()
    log = server.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-5000:]


# -- what is thrown ------------------------------------------------------------------------------

NASTY = [
    "",
    "\r\n",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\u200b",
    "\u3164",
    "%00",
    "%",
    "%zz",
    "../../etc/passwd",
    "/rooms/general\r\nX:1",
    "//evil.example",
    "https://evil.example/",
    "00000000000000000-0",
    "01795939598044236-abc",
    "00000000000000000-99999999999999999999",
    "0000000000000000\u00b2-1",
    "x" * 3000,
    "general",
    "red",
    "UTC",
    "Europe/Paris",
]
TEXT = st.text(st.characters(codec=None), max_size=40) | st.sampled_from(NASTY)
# A lone surrogate as UTF-8 would spell it (ED A0 80), and other bytes that are not UTF-8 at all.
BYTES = st.binary(max_size=40) | st.sampled_from([b"\xed\xa0\x80", b"\xff\xfe", b"\xc0\xaf", b"%"])


# Each route's parameters start from values that work (a sign-in that signs in, a cursor a page
# could carry...) and the fuzz swaps some for others, so it gets past the first check it meets to
# the code behind it (a redirect after a sign-in, a store query after a cursor check).
CURSORS = st.builds(
    lambda time, message_id: f"{time}-{message_id}",
    st.from_regex(r"[0-9]{17}", fullmatch=True) | st.from_regex(r"[0-9\u00b2\u0663]{15,18}", fullmatch=True),
    st.sampled_from(["abc", "-1", "\u00b2", "9" * 20, "f" * 32, "1"])
    | st.integers(-5, 10**25).map(str)
    | st.from_regex(r"[-0-9a-zA-Z\u00b2]{0,34}", fullmatch=True),
)
EMAILS = r"[a-z0-9.\uff41-\uff5a\u200b]{1,12}@(example\.com|[a-z\uff45]{1,8}\.[a-z]{2,4})"
SHAPED: dict[str, st.SearchStrategy[str]] = {
    "email": st.from_regex(EMAILS, fullmatch=True),
    "password": st.text(st.characters(codec="utf-8"), min_size=6, max_size=30) | st.just("x" * 1025),
    "next": st.builds(lambda path, tail: path + tail, st.sampled_from(["/rooms/", "/people/", "/", "//"]), TEXT),
    "before": CURSORS,
    "after": CURSORS,
    "name": st.from_regex(r"#?[A-Za-z0-9 -]{0,34}", fullmatch=True),
    "handle": st.from_regex(r"@?[A-Za-z0-9_\-\uff41-\uff5a]{0,34}", fullmatch=True),
    "colour": st.sampled_from(["red", "blue", "", "RED"]),
    "time_zone": st.sampled_from(["UTC", "Europe/Paris", "Mars/Base", ""]),
    "client_id": st.from_regex(r"[A-Za-z0-9_\-]{0,70}", fullmatch=True),
}


def value_for(name: str) -> st.SearchStrategy[str | bytes]:
    """Half the time shaped like the field's values, else any text or bytes."""
    shaped = SHAPED.get(name, TEXT)
    return st.one_of(shaped, shaped, TEXT, BYTES)


def encoded(value: str | bytes) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    return quote_from_bytes(raw, safe="")


PAIRS = st.lists(st.tuples(TEXT | BYTES, TEXT | BYTES), max_size=4)


@st.composite
def mutated(draw: st.DrawFn, baseline: dict[str, str]) -> str:
    """``baseline``, urlencoded, with some values swapped for fuzz, some left out, and a few extra pairs."""
    pairs: list[tuple[str | bytes, str | bytes]] = []
    for name, good in baseline.items():
        choice = draw(st.integers(0, 5))
        if choice <= 1:
            pairs.append((name, good))
        elif choice <= 4:
            pairs.append((name, draw(value_for(name))))
    pairs += draw(PAIRS)
    joined = "&".join(f"{encoded(k)}={encoded(v)}" for k, v in draw(st.permutations(pairs)))
    if draw(st.integers(0, 9)) == 9:  # now and then not a query string at all (Hypothesis favours 0)
        return draw(st.sampled_from(["%", "&&=&", "a=%zz", "=" * 10, "x" * 5000]))
    return joined


GOOD_CURSOR = "00000000000000000-0"
GET_PAGES: dict[str, dict[str, str]] = {
    "/": {},
    "/login": {"next": "/settings"},
    "/signup": {"next": "/settings"},
    "/rooms": {"name": "dev"},
    "/rooms/general": {},
    "/rooms/general/history": {"before": GOOD_CURSOR},
    "/settings": {},
    "/people/fuzz": {},
    "/me.css": {},
    "/healthz": {},
    "/readyz": {},
    "/metrics": {},
    "/favicon.ico": {},
    "/static/chat.css": {},
}
FORMS: dict[str, dict[str, str]] = {
    "/login": {"email": "fuzz@example.com", "password": "fuzz password", "next": "/settings"},
    "/signup": {"email": "new@example.com", "password": "a password", "display_name": "New", "next": "/settings"},
    "/logout": {},
    "/settings": {"display_name": "Fuzz", "handle": "fuzz", "colour": "red", "time_zone": "UTC"},
    "/rooms/general/messages": {"message": "hello", "client_id": "A" * 22},
}
SIGNED_OUT_FORMS = ("/login", "/signup", "/logout")  # posted from a fresh client: never end our session


def paths() -> st.SearchStrategy[str]:
    segment = (TEXT | BYTES).map(encoded)
    made_up = st.lists(segment, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
    return made_up | st.sampled_from(["/rooms/" + quote(n, safe="") for n in NASTY]) | st.sampled_from(
        ["/people/" + quote(n, safe="") for n in NASTY]
    )


@st.composite
def page_queries(draw: st.DrawFn) -> tuple[str, str]:
    """A page and a query string: its own parameters, some fuzzed, and others."""
    path = draw(st.sampled_from(sorted(GET_PAGES, key=lambda p: (not GET_PAGES[p], p))))  # with parameters first
    return path, draw(mutated(GET_PAGES[path]))


@st.composite
def form_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A form's URL and a body: its own fields, some fuzzed; now and then not a form, or one too large."""
    path = draw(st.sampled_from(sorted(FORMS)))
    baseline = dict(FORMS[path])
    if path == "/signup":  # a new address each time, so an unchanged form signs up
        baseline["email"] = f"{draw(st.uuids()).hex[:12]}@example.com"
    body = draw(mutated(baseline)).encode()
    shape = draw(st.integers(0, 9))  # Hypothesis favours 0: the form itself, most of the time
    return path, body if shape < 8 else draw(st.binary(max_size=300)) if shape == 8 else b"x=" + b"y" * 70_000


def answered(response: httpx.Response, what: object) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    assert "Traceback" not in response.text


# -- HTTP ----------------------------------------------------------------------------------------

HTMX = st.sampled_from([{}, {"HX-Request": "true"}])


@settings(max_examples=HTTP_EXAMPLES)
@given(page=page_queries(), headers=HTMX)
def test_no_query_string_on_any_page_is_a_5xx(site: Site, page: tuple[str, str], headers: dict) -> None:
    path, query = page
    answered(site.me.get(f"{path}?{query}" if query else path, headers=headers), (path, query))


@settings(max_examples=HTTP_EXAMPLES)
@given(form=form_bodies(), query=mutated({}), with_token=st.integers(0, 4).map(lambda n: n < 4), headers=HTMX)
def test_no_form_body_is_a_5xx(site: Site, form: tuple[str, bytes], query: str, with_token: bool, headers) -> None:
    path, body = form
    url = f"{path}?{query}" if query else path
    headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    if path in SIGNED_OUT_FORMS:
        with httpx.Client(base_url=site.server.base, timeout=15, limits=ONE_CONNECTION_PER_REQUEST) as visitor:
            token = csrf_token(visitor.get("/login").text, "/login")
            body = (f"csrf_token={token}&".encode() if with_token else b"") + body
            answered(visitor.post(url, content=body, headers=headers), (url, body[:300]))
    else:
        body = (f"csrf_token={site.csrf}&".encode() if with_token else b"") + body
        answered(site.me.post(url, content=body, headers=headers), (url, body[:300]))


@settings(max_examples=FOCUSED_EXAMPLES)
@given(cursor=value_for("before"))
def test_any_history_cursor_is_a_page_or_a_400(site: Site, cursor: str | bytes) -> None:
    """The cursor check on its own (a fuzzed query string rarely keeps a cursor's outline)."""
    response = site.me.get(f"/rooms/general/history?before={encoded(cursor)}")
    answered(response, cursor)
    assert response.status_code in (200, 400), (cursor, response.status_code)


@settings(max_examples=FOCUSED_EXAMPLES)
@given(next_url=value_for("next"))
def test_any_next_lands_on_a_page_of_ours_after_signing_in(site: Site, next_url: str | bytes) -> None:
    """A sign-in that succeeds with any ``next``: a 303 to a path of ours, and the session is there."""
    with httpx.Client(base_url=site.server.base, timeout=15, limits=ONE_CONNECTION_PER_REQUEST) as visitor:
        token = csrf_token(visitor.get("/login").text, "/login")
        form = f"csrf_token={token}&email=fuzz%40example.com&password=fuzz%20password&next={encoded(next_url)}"
        response = visitor.post("/login", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        answered(response, next_url)
        assert response.status_code == 303, (next_url, response.status_code)
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), (next_url, location)
        answered(visitor.get(location), location)  # a page of ours (a card may be a 404: no such person)
        assert visitor.get("/settings").status_code == 200  # and signed in


@settings(max_examples=HTTP_EXAMPLES // 2)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), path=paths(), query=mutated({}),
       body=st.none() | st.binary(max_size=100))
def test_no_made_up_path_or_method_is_a_5xx(site: Site, method: str, path: str, query: str, body) -> None:
    url = f"{path}?{query}" if query else path
    answered(site.me.request(method, url, content=body), (method, url))


# -- WebSocket -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
FORM_FRAMES = st.fixed_dictionaries(
    {"message": JSON}, optional={"client_id": JSON, "typing": JSON, "headers": JSON, "HEADERS": JSON}
).map(json.dumps)
FRAMES = st.one_of(
    FORM_FRAMES,
    JSON.map(json.dumps),  # lone surrogates as \ud800 escapes
    st.text(st.characters(codec="utf-8"), max_size=200),  # a text frame is UTF-8 on the wire
    st.binary(max_size=200),
    st.integers(1, 30_000).map(lambda depth: "[" * depth + "]" * depth),
    st.sampled_from(
        [
            '{"message": "\\ud800"}',
            '{"message": "\\udfff\\ud800 x"}',
            '{"message": "pay \\u202etxt.exe"}',
            '{"message": "\\u200b\\u3164"}',
            '{"message": "' + "x" * 70_000 + '"}',
            '{"message": 1e999999}',
            '{"message": ' + "9" * 5000 + "}",
            '{"typing": "1", "message": "\\ud800"}',
            "{bad",
            "",
        ]
    ),
)
AFTER = st.none() | value_for("after").map(encoded) | st.sampled_from([quote(n, safe="") for n in NASTY])


def probe(ws, text: str) -> int | None:
    """Send a message and read until its row is back (None), or the close code if the socket closed."""
    try:
        ws.send(json.dumps({"message": text}))
        while True:
            frame = ws.recv(timeout=15)
            if isinstance(frame, str) and text in frame:
                return None
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the connection dropped without a close frame"
        assert closed.rcvd_then_sent is not False, "we never asked it to close"
        return closed.rcvd.code


@settings(max_examples=SOCKET_EXAMPLES)
@given(frames=st.lists(FRAMES, min_size=1, max_size=6), after=AFTER)
def test_no_frame_closes_a_socket_but_with_a_documented_code(site: Site, frames: list[str | bytes], after) -> None:
    url = site.server.base.replace("http://", "ws://") + "/rooms/general/ws" + (f"?after={after}" if after else "")
    cookie = "; ".join(f"{c.name}={c.value}" for c in site.me.cookies.jar)
    with connect(url, additional_headers={"Cookie": cookie}, origin=site.server.base, open_timeout=10) as ws:
        code = None
        try:
            ws.recv(timeout=15)  # catch-up or the live status: the socket is up
            for frame in frames:
                ws.send(frame)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            assert code in DOCUMENTED_CLOSES, (code, frames)
            return
        code = probe(ws, f"probe-{uuid.uuid4().hex}")
        assert code is None or code in DOCUMENTED_CLOSES, (code, frames)

