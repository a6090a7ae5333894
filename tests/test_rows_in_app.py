"""Rows in the running app (in process): names not emails, groups, day dividers, each viewer's zone.

Rows are added through the app's own store and profile store; rows from long ago are written
into the SQLite file directly, as an older server would have left them.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from quart import Quart

from quart_chat.messaging import send_message
from quart_chat.models import Identity, Profile
from quart_chat.profiles import ProfileChanges
from quart_chat.rows import long_date
from quart_chat.services import Services
from quart_chat.settings import Settings
from quart_chat.web.context import app_services_of
from tests.conftest import User
from tests.test_live import frames_until, send

ROW = re.compile(r'<li class="(msg[^"]*)" id="m-[^"]+"[^>]*>(.*?)</li>', re.S)
AUTHOR = re.compile(r'<span class="author ([^"]*)">([^<]*)</span>')
TIME = re.compile(r"<time [^>]*>([^<]*)</time>")


def rows(html: str) -> list[tuple[str, str, str]]:
    """(classes, author as shown, text) of each row in the html."""
    found = []
    for classes, body in ROW.findall(html):
        _, name = AUTHOR.search(body).groups()
        found.append((classes, name, re.search(r'<span class="text">(.*?)</span>', body).group(1)))
    return found


async def profile(app: Quart, user: User) -> Profile:
    """The user's profile (made on their first page) from the app's own profile store."""
    await user.room_page()
    services = app_services_of(app)
    found = await services.profiles.by_handle(user.email.split("@")[0])
    assert found is not None
    return found


def write_old_row(settings: Settings, room: str, uid: str, name: str, text: str, at: datetime) -> None:
    """A row stored at ``at``, as a server running then would have written it."""
    with sqlite3.connect(settings.data_dir / "chat.sqlite3") as db:
        db.execute(
            "INSERT INTO messages (room, author_uid, author_name, text, created_us) VALUES (?, ?, ?, ?, ?)",
            (room, uid, name, text, int(at.timestamp() * 1_000_000)),
        )


async def test_rows_show_display_names_and_handles_never_emails(app: Quart, ada: User, bob: User) -> None:
    me = await profile(app, ada)
    await profile(app, bob)
    services: Services = app_services_of(app)
    await services.profiles.update(me.uid, ProfileChanges(display_name="Ada Lovelace"))
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await a.send(send("Hello, world!"))
        live = "".join(await frames_until(b, lambda s: "Hello, world!" in s))
    assert rows(live) == [("msg", "Ada Lovelace", "Hello, world!")]
    assert '<span class="handle">@ada</span>' in live and f'c-{me.colour}"' in live
    settings = services.settings
    write_old_row(settings, "general", "uid-gone", "grace@navy.mil", "from before", datetime.now(UTC))
    page = await bob.room_page()
    assert [name for _, name, _ in rows(page)] == ["Ada Lovelace", "grace"]  # no profile: the email's local part
    for html in (live, page):
        assert "ada@example.com" not in html and "navy.mil" not in html
    stored = await services.store.latest("general", 10)
    assert stored[0].author_name == "Ada Lovelace"  # the display name is stored, not the email


async def test_consecutive_rows_by_one_author_are_grouped_on_the_page_and_live(
    app: Quart, ada: User, bob: User
) -> None:
    services = app_services_of(app)
    a, b = Identity((await profile(app, ada)).uid, ada.email), Identity((await profile(app, bob)).uid, bob.email)
    for who, text in ((a, "one"), (a, "two"), (b, "three"), (a, "four")):
        await send_message(services, "general", who, text)
    grouped = [("msg", "ada", "one"), ("msg msg--cont", "ada", "two"), ("msg", "bob", "three"), ("msg", "ada", "four")]
    assert rows(await bob.room_page()) == grouped
    async with bob.socket() as ws:
        await ws.receive_within()
        async with ada.socket() as live:
            await live.receive_within()
            await live.send(send("five"))
            frame = "".join(await frames_until(ws, lambda s: "five" in s))
    assert rows(frame) == [("msg msg--cont", "ada", "five")]  # continues "four", read from the store
    assert rows(await bob.room_page())[-1] == ("msg msg--cont", "ada", "five")  # the same after a reload
    async with bob.socket(after=(await services.store.latest("general", 5))[0].cursor) as ws:
        caught_up = await ws.receive_within()  # catch-up reads the row before its first one too
    assert rows(caught_up) == [*grouped[1:], ("msg msg--cont", "ada", "five")]


async def test_rows_more_than_five_minutes_apart_and_across_days_are_not_grouped(
    app: Quart, ada: User, bob: User, settings: Settings
) -> None:
    uid = (await profile(app, ada)).uid
    now = datetime.now(UTC)
    # At noon: the rows seven minutes apart must not straddle a midnight (this failed when run at 23:54 UTC).
    three_days_ago = (now - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    for text, at in (
        ("long ago", three_days_ago),
        ("six minutes on", three_days_ago + timedelta(minutes=6)),
        ("and one more", three_days_ago + timedelta(minutes=7)),
        ("today", now - timedelta(seconds=5)),
    ):
        write_old_row(settings, "general", uid, "ada", text, at)
    page = await bob.room_page()
    assert [c for c, _, _ in rows(page)] == ["msg", "msg", "msg msg--cont", "msg"]
    days = re.findall(r'<h2 class="day"><span>([^<]*)</span></h2>', page)
    assert days == [long_date(three_days_ago.date()), "Today"]  # bob's zone is UTC
    newest = (await app_services_of(app).store.latest("general", 1))[0]
    older = await bob.client.get("/rooms/general/history", query_string={"before": newest.cursor})
    assert [c for c, _, _ in rows(await older.get_data(as_text=True))] == ["msg", "msg", "msg msg--cont"]


async def test_each_viewer_sees_the_same_live_row_in_their_own_zone(app: Quart, ada: User, bob: User) -> None:
    services = app_services_of(app)
    await profile(app, ada)
    await services.profiles.update((await profile(app, bob)).uid, ProfileChanges(time_zone="Europe/Paris"))
    assert 'Times in <a href="/settings">Europe/Paris</a>' in await bob.room_page()
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await a.send(send("what time is it?"))
        for_ada = "".join(await frames_until(a, lambda s: "what time is it?" in s))
        for_bob = "".join(await frames_until(b, lambda s: "what time is it?" in s))
    at = (await services.store.latest("general", 1))[0].created_at
    assert TIME.findall(for_ada) == [f"{at:%H:%M}"]
    assert TIME.findall(for_bob) == [f"{at.astimezone(ZoneInfo('Europe/Paris')):%H:%M}"]
    assert "Europe/Paris" in for_bob and "Europe/Paris" not in for_ada
    assert TIME.findall(await bob.room_page()) == TIME.findall(for_bob)  # the page agrees after a reload


async def test_a_new_name_and_colour_reach_the_others_live_and_every_row_after_a_reload(
    app: Quart, ada: User, bob: User
) -> None:
    """Changed in /settings while a socket is open: the next row already carries it; a reload shows
    it on the older rows too. Nobody reloads or reconnects for the live part."""
    from tests.test_people_pages import settings_form

    await profile(app, bob)
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        await a.send(send("before the change"))
        await frames_until(b, lambda s: "before the change" in s)
        form = {**await settings_form(ada.client), "display_name": "Countess Ada", "colour": "indigo"}
        assert (await ada.client.post("/settings", form=form)).status_code == 303
        await a.send(send("after the change"))
        live = "".join(await frames_until(b, lambda s: "after the change" in s))
    after = [r for r in rows(live) if r[2] == "after the change"]
    assert [name for _, name, _ in after] == ["Countess Ada"]
    assert 'class="author c-indigo' in live  # (its name is visually hidden: it continues her group)
    page = await bob.room_page()
    assert [name for _, name, _ in rows(page)] == ["Countess Ada", "Countess Ada"]
    assert page.count('class="author c-indigo') == 2
