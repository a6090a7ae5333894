"""The room WebSocket through Quart's test client: refusals, history, broadcast, errors, boundaries."""

import asyncio
import json
import re
from dataclasses import replace

from quart import Quart
from quart.testing import QuartClient

from quart_chat.limits import Rate
from quart_chat.models import Identity
from quart_chat.web.context import app_services_of
from tests.conftest import User
from tests.support.net import until
from tests.support.ws import Closed

ROW = re.compile(r'<li class="msg[^"]*" id="m-([^"]+)"[^>]*>.*?<span class="text">(.*?)</span></li>', re.S)


def texts(frame: str) -> list[str]:
    return [text for _, text in ROW.findall(frame)]


def send(text: str) -> str:
    return json.dumps({"message": text, "headers": {"HX-Request": "true"}})


async def frames_until(ws, predicate, timeout: float = 5.0) -> list[str]:
    """Collect frames until ``predicate(all_text_so_far)`` holds."""
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while not predicate("".join(seen)):
            seen.append(await ws.receive_within(timeout))
    return seen


async def test_refused_without_a_session_with_1008_and_a_login_link(client: QuartClient) -> None:
    async with client.websocket("/rooms/general/ws", headers={"Origin": "http://localhost"}) as ws:
        frame = await ws.receive_within()
        closed = await ws.closed_with()
    assert closed.code == 1008
    assert "You are signed out." in frame and "/login?next=/rooms/general" in frame


async def test_refused_from_another_origin_with_1008_and_nothing_sent(ada: User) -> None:
    for origin in ("http://evil.example", "null", None):
        async with ada.socket(origin=origin) as ws:
            try:
                await ws.receive_within()
                raise AssertionError("a refused socket must not get data")
            except Closed as closed:
                assert closed.code == 1008


async def test_allowed_origins_setting_lets_a_named_origin_in(settings, tmp_path) -> None:
    from quart_chat.app import create_app
    from tests.conftest import make_client

    app = create_app(replace(settings, allowed_origins=("https://chat.example.com",)))
    async with app.test_app():
        user = await User(make_client(app), "ada@example.com").sign_up()
        async with user.socket(origin="https://chat.example.com") as ws:
            assert 'id="live-status"' in await ws.receive_within()


async def test_unknown_room_is_refused(ada: User) -> None:
    async with ada.socket(room="Bad_Room") as ws:
        assert (await ws.closed_with()).code == 1008


async def test_connect_sends_what_the_page_lacks_then_live_status(app: Quart, ada: User) -> None:
    store = app_services_of(app).store
    first = await store.add("general", "u1", "x", "before the page")
    await store.add("general", "u1", "x", "after the page")
    async with ada.socket(after=first.cursor) as ws:
        frame = await ws.receive_within()
    assert texts(frame) == ["after the page"]
    assert "<hx-upsert" in frame and 'class="live-status live"' in frame


async def test_message_is_stored_broadcast_to_others_and_the_composer_resets(app: Quart, ada: User, bob: User) -> None:
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await a.send(send("  Hello, world!  "))
        got_b = await frames_until(b, lambda s: "Hello, world!" in s)
        got_a = await frames_until(a, lambda s: 'id="composer"' in s)
    assert texts("".join(got_b)) == ["Hello, world!"]
    assert "Hello, world!" in "".join(got_a)
    assert 'id="composer"' not in "".join(got_b)  # only the sender's form is reset
    stored = await app_services_of(app).store.latest("general", 10)
    assert [(m.text, m.author_name) for m in stored] == [("Hello, world!", "ada")]  # a name, never the email
    assert stored[0].created_at.tzinfo is not None


async def test_html_in_messages_is_escaped_in_live_rows(ada: User, bob: User) -> None:
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await a.send(send('<img src=x onerror="alert(1)">'))
        frame = "".join(await frames_until(b, lambda s: "img" in s))
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in frame and "<img" not in frame


async def test_bad_frames_get_an_error_to_the_sender_only_and_change_nothing(
    app: Quart, ada: User, bob: User, settings
) -> None:
    too_long = "x" * (settings.max_message_chars + 1)
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        for bad, expected in ((send(too_long), "Message too long"), ("{not json", "could not be read")):
            await a.send(bad)
            frame = await a.receive_within()
            assert 'id="composer-error"' in frame and expected in frame
            await a.send(send(""))  # a good frame between: the next bad one is answered again (live_reader)
        await a.send(send("   "))  # empty: ignored, no error, nothing stored
        await a.send(send("then a good one"))
        got_b = "".join(await frames_until(b, lambda s: "then a good one" in s))
    assert "composer-error" not in got_b and texts(got_b) == ["then a good one"]
    assert [m.text for m in await app_services_of(app).store.latest("general", 10)] == ["then a good one"]


async def test_rate_limit_refuses_the_excess_with_a_clear_error(app: Quart, settings) -> None:
    from quart_chat.app import create_app
    from tests.conftest import make_client

    limited = create_app(replace(settings, message_burst=2, messages_per_minute=1))
    async with limited.test_app():
        user = await User(make_client(limited), "ada@example.com").sign_up()
        async with user.socket() as ws:
            await ws.receive_within()
            for i in range(3):
                await ws.send(send(f"m{i}"))
            seen = "".join(await frames_until(ws, lambda s: "too fast" in s))
        stored = [m.text for m in await app_services_of(limited).store.latest("general", 10)]
    assert "You are sending too fast" in seen and stored == ["m0", "m1"]


async def test_store_failure_is_reported_and_nothing_is_broadcast(app: Quart, ada: User, bob: User) -> None:
    store = app_services_of(app).store
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await store.close()  # the store goes away under a live room
        await a.send(send("lost?"))
        frame = "".join(await frames_until(a, lambda s: "could not be saved" in s))
        # No row for it; the sender's composer comes back with the text kept (nothing typed is lost).
        assert 'class="msg' not in frame and ">lost?</textarea>" in frame
        try:
            extra = await asyncio.wait_for(b.receive(), 0.5)
        except TimeoutError:
            extra = ""
        assert "lost?" not in extra
        await store.open()


async def test_rooms_are_separate(ada: User, bob: User) -> None:
    async with ada.socket("general") as a, bob.socket("random") as b, bob.socket("general") as b2:
        for ws in (a, b, b2):
            await ws.receive_within()
        await a.send(send("only general"))
        await frames_until(b2, lambda s: "only general" in s)
        try:
            leaked = await asyncio.wait_for(b.receive(), 0.3)
        except TimeoutError:
            leaked = ""
    assert "only general" not in leaked


async def test_no_gap_and_no_duplicate_at_the_history_live_boundary(app: Quart, ada: User) -> None:
    """Rows stored while a socket connects arrive exactly once, whether by catch-up or live."""
    from quart_chat.messaging import send_message

    services = app_services_of(app)
    writer = Identity("w", "writer@example.com")
    services.message_rate = Rate(10**6, 60.0, 10**6)  # the writer types faster than a person may
    stop = asyncio.Event()
    stored = 0

    async def keep_sending() -> int:
        nonlocal stored
        async with app.app_context():
            while not stop.is_set():
                await send_message(services, "general", writer, f"n{stored}")
                stored += 1
                await asyncio.sleep(0)
        return stored

    sender = asyncio.create_task(keep_sending())
    await until(lambda: stored >= 20, what="rows stored before the socket opens")
    async with ada.socket() as ws:  # after=nothing: everything is "history the page lacks"
        opened_at = stored
        await until(lambda: stored >= opened_at + 20, what="rows stored while the socket catches up")
        stop.set()
        total = await sender
        got = await frames_until(ws, lambda s: f">n{total - 1}<" in s, timeout=10)
    ids = [mid for frame in got for mid, _ in ROW.findall(frame)]
    assert len(ids) == len(set(ids)) == total
    assert [t for frame in got for t in texts(frame)] == [f"n{i}" for i in range(total)]


async def test_reconnect_with_the_page_cursor_resends_rows_as_upserts_without_duplicates(
    app: Quart, ada: User
) -> None:
    store = app_services_of(app).store
    first = await store.add("general", "u1", "x", "seen")
    for t in ("missed 1", "missed 2"):
        await store.add("general", "u1", "x", t)
    async with ada.socket(after=first.cursor) as ws:
        frame = await ws.receive_within()
    assert texts(frame) == ["missed 1", "missed 2"]
    ids = [mid for mid, _ in ROW.findall(frame)]
    assert len(set(ids)) == 2 and 'key="data-key" sort' in frame


async def test_a_page_far_behind_gets_the_latest_page_instead_of_everything(settings) -> None:
    from quart_chat.app import create_app
    from tests.conftest import make_client

    app = create_app(replace(settings, catchup_limit=5, history_page_size=3))
    async with app.test_app():
        store = app_services_of(app).store
        first = await store.add("general", "u", "x", "old")
        for i in range(10):
            await store.add("general", "u", "x", f"m{i}")
        user = await User(make_client(app), "ada@example.com").sign_up()
        async with user.socket(after=first.cursor) as ws:
            frame = await ws.receive_within()
    assert texts(frame) == ["m7", "m8", "m9"]
    assert 'hx-target="#messages" hx-swap="innerHTML"' in frame and "Load older messages" in frame


async def test_logout_closes_that_sessions_open_sockets(app: Quart, ada: User) -> None:
    from tests.conftest import csrf_from

    async with ada.socket() as ws:
        await ws.receive_within()
        token = await csrf_from(ada.client, "/rooms/general")
        await ada.client.post("/logout", form={"csrf_token": token})
        closed = await ws.closed_with()
    assert closed.code == 1008


async def test_drain_closes_sockets_with_1012_for_a_restart(app: Quart, ada: User) -> None:
    async with ada.socket() as ws:
        await ws.receive_within()
        await app_services_of(app).drain(timeout=2)
        frames = []
        try:
            while True:
                frames.append(await ws.receive_within())
        except Closed as closed:
            assert closed.code == 1012
    assert "Reconnecting" in "".join(frames)


CLIENT_ID = re.compile(r'name="client_id" value="([^"]+)"')


def send_once(text: str, client_id: str) -> str:
    """A frame as the composer sends it: the text and the composer's one-time id."""
    return json.dumps({"message": text, "client_id": client_id, "headers": {"HX-Request": "true"}})


async def test_a_frame_sent_again_lands_once_on_one_socket_or_after_a_reconnect(
    app: Quart, ada: User, bob: User
) -> None:
    client_id = CLIENT_ID.search(await ada.room_page()).group(1)
    frame = send_once("only once", client_id)
    async with bob.socket() as b:
        await b.receive_within()
        async with ada.socket() as a:
            await a.receive_within()
            await a.send(frame)
            await a.send(frame)  # htmx re-sends a frame it was not sure went out
            got_a = "".join(await frames_until(a, lambda s: s.count('id="composer"') == 2))
        async with ada.socket() as a:  # the reconnect htmx makes, sending the same frame again
            await a.receive_within()
            await a.send(frame)
            got_a += "".join(await frames_until(a, lambda s: 'id="composer"' in s))
            await a.send(send("marker"))
            got_b = "".join(await frames_until(b, lambda s: "marker" in s))
    assert texts(got_b) == ["only once", "marker"]  # delivered once
    stored = await app_services_of(app).store.latest("general", 10)
    assert [m.text for m in stored] == ["only once", "marker"]  # stored once
    fresh = CLIENT_ID.findall(got_a)  # the sender still gets a new composer each time, each with a new id
    assert len(fresh) == 3 and len({client_id, *fresh}) == 4


async def test_a_bad_client_id_is_refused_and_nothing_is_stored(app: Quart, ada: User) -> None:
    async with ada.socket() as a:
        await a.receive_within()
        await a.send(send_once("sneaky", "../../not an id"))
        frame = "".join(await frames_until(a, lambda s: 'id="composer-error"' in s))
    assert "could not be read" in frame
    assert await app_services_of(app).store.latest("general", 10) == []


async def test_a_socket_is_refused_for_now_when_profiles_cannot_be_read(app: Quart, ada: User) -> None:
    """No profile, no name to show others: 1013 (htmx retries), not a crash; nothing else changes."""
    await app_services_of(app).profiles.close()
    async with ada.socket() as ws:
        assert "Reconnecting" in await ws.receive_within()
        assert (await ws.closed_with()).code == 1013
