"""Rows a person can read, without an app: grouping, day dividers, times in a zone, names not emails."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from quart_chat.hub import Broadcast
from quart_chat.live_protocol import LiveProtocol, ReadLatest
from quart_chat.models import Message, Profile
from quart_chat.people import PALETTE
from quart_chat.rendering import Renderer
from quart_chat.rows import GROUP_WINDOW, Author, Row, author_of, continues, day_label, rows_of, times

RENDERER = Renderer()
NOW = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # a Sunday
PARIS = ZoneInfo("Europe/Paris")
ADA = Profile("uid-ada", "ada", "Ada Lovelace", "teal", "UTC", NOW)


def said(n: int, uid: str, at: datetime, name: str = "ada@example.com") -> Message:
    return Message(f"{n:04d}", "general", uid, name, f"m{n}", at)


def classes(html: str) -> list[str]:
    return re.findall(r'<li class="([^"]+)"', html)


# -- the rules --------------------------------------------------------------------------------


def test_one_author_within_five_minutes_continues_a_group_and_nothing_else_does() -> None:
    first = said(1, "a", NOW)
    assert continues(first, said(2, "a", NOW + timedelta(minutes=1)))
    assert continues(first, said(2, "a", NOW + GROUP_WINDOW))  # five minutes exactly: still one group
    assert not continues(first, said(2, "a", NOW + GROUP_WINDOW + timedelta(microseconds=1)))
    assert not continues(first, said(2, "b", NOW + timedelta(seconds=1)))  # another author
    assert not continues(None, first)  # the room's first row


def test_rows_group_from_the_store_order_starting_from_the_row_before_the_first() -> None:
    before = said(0, "a", NOW - timedelta(minutes=1))
    messages = [
        said(1, "a", NOW),
        said(2, "a", NOW + timedelta(minutes=2)),
        said(3, "b", NOW + timedelta(minutes=3)),
        said(4, "a", NOW + timedelta(minutes=4)),
        said(5, "a", NOW + timedelta(minutes=10)),
    ]
    rows = rows_of(messages, before, {})
    assert [r.continues for r in rows] == [True, True, False, False, False]
    assert [r.previous_at for r in rows] == [before.created_at, *(m.created_at for m in messages[:-1])]
    assert rows_of(messages, None, {})[0].continues is False


def test_days_are_today_yesterday_or_a_date() -> None:
    today = date(2026, 11, 29)
    assert day_label(today, today) == "Today"
    assert day_label(date(2026, 11, 28), today) == "Yesterday"
    assert day_label(date(2026, 11, 3), today) == "Tuesday 3 November 2026"


def test_times_are_short_in_the_viewers_zone_with_the_instant_and_zone_in_full() -> None:
    row = Row(said(1, "a", datetime(2026, 11, 29, 13, 5, tzinfo=UTC)), Author("Ada", "ada", "teal"))
    paris = times(row, PARIS, date(2026, 11, 29))
    assert (paris.short, paris.iso) == ("14:05", "2026-11-29T13:05:00Z")
    assert paris.full == "Sunday 29 November 2026, 14:05 Europe/Paris"
    assert times(row, ZoneInfo("UTC"), date(2026, 11, 29)).short == "13:05"


def test_a_day_divider_comes_where_the_day_changes_in_the_viewers_zone() -> None:
    late = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)  # 23:30 in Paris
    row = Row(said(2, "a", late + timedelta(hours=1)), Author("Ada", "ada", "teal"), previous_at=late)
    assert times(row, ZoneInfo("UTC"), NOW.date()).divider is None  # still the 28th in UTC
    assert times(row, PARIS, NOW.date()).divider == "Today"  # 00:30 on the 29th in Paris
    first = Row(said(1, "a", late), Author("Ada", "ada", "teal"))
    assert times(first, PARIS, NOW.date()).divider == "Yesterday"  # the room's first row opens a day


def test_an_author_is_their_profile_or_else_never_an_email() -> None:
    message = said(1, "uid-ada", NOW)
    assert author_of(message, {"uid-ada": ADA}) == Author("Ada Lovelace", "ada", "teal")
    fallback = author_of(message, {})
    assert fallback.name == "ada" and fallback.handle == "" and fallback.colour in PALETTE
    assert author_of(said(2, "uid-bob", NOW, name="Bob"), {}).name == "Bob"
    odd = Profile("uid-x", "x1", "X", "not-a-colour", "UTC", NOW)
    assert Author.of(odd).colour in PALETTE  # only palette classes ever reach a row


# -- the rendered row -------------------------------------------------------------------------


def test_a_row_shows_name_handle_colour_and_time_and_a_continued_row_is_compact() -> None:
    start = datetime(2026, 11, 29, 13, 5, tzinfo=UTC)
    messages = [said(1, "uid-ada", start), said(2, "uid-ada", start + timedelta(minutes=1))]
    first, second = (RENDERER.row(r, "Europe/Paris", now=NOW) for r in rows_of(messages, None, {"uid-ada": ADA}))
    assert classes(first) == ["msg"] and classes(second) == ["msg msg--cont"]
    assert '<span class="author c-teal">Ada Lovelace</span> <span class="handle">@ada</span>' in first
    title = "Sunday 29 November 2026, 14:05 Europe/Paris"
    assert f'<time datetime="2026-11-29T13:05:00Z" title="{title}">14:05</time>' in first
    assert '<h2 class="day"><span>Today</span></h2>' in first and 'class="day"' not in second
    assert '<span class="author c-teal visually-hidden">Ada Lovelace</span>' in second  # for screen readers
    assert "@ada" not in second and ">14:06</time>" in second
    for html in (first, second):
        assert "example.com" not in html and "style=" not in html


def test_a_bare_message_renders_by_its_stored_name_without_the_email() -> None:
    html = RENDERER.row(said(1, "uid-old", NOW, name="grace@navy.mil"))
    assert ">grace</span>" in html and "navy.mil" not in html


def test_a_broadcast_is_rendered_once_per_zone_however_many_viewers() -> None:
    calls: list[str] = []

    class Counting:
        def row(self, row: Row, tz: str) -> str:
            calls.append(tz)
            return RENDERER.row(row, tz, now=NOW)

    broadcast = Broadcast(rows_of([said(1, "uid-ada", NOW)], None, {"uid-ada": ADA})[0])
    counting = Counting()
    seen = [broadcast.html_for(tz, counting) for tz in ["UTC", "Europe/Paris"] * 50]
    assert calls == ["UTC", "Europe/Paris"]
    assert ">15:00</time>" in seen[0] and ">16:00</time>" in seen[1]


def test_the_live_core_renders_live_and_caught_up_rows_in_its_viewers_zone() -> None:
    proto = LiveProtocol(
        room="general", after="00000000000000000-0", renderer=RENDERER, login_href="/login",
        catchup_limit=5, page_size=2, heartbeat=5.0, revocation_interval=300.0, now=0.0,
        time_zone="Europe/Paris",
    )  # fmt: skip
    page_end = said(1, "uid-ada", NOW)
    proto.store_read([said(2, "uid-ada", NOW + timedelta(minutes=1))], previous=page_end, profiles={"uid-ada": ADA})
    frame = proto.data_to_send().frame
    assert classes(frame) == ["msg msg--cont"] and ">16:01</time>" in frame  # continues the page's last row
    live = Broadcast(Row(said(3, "uid-bob", NOW + timedelta(minutes=2)), Author("Bob", "bob", "red")))
    proto.woke([live], now=1.0)
    assert ">16:02</time>" in proto.data_to_send().frame


def test_a_reset_groups_its_first_row_with_the_extra_row_it_read() -> None:
    proto = LiveProtocol(
        room="general", after="00000000000000000-0", renderer=RENDERER, login_href="/login",
        catchup_limit=1, page_size=2, heartbeat=5.0, revocation_interval=300.0, now=0.0,
    )  # fmt: skip
    proto.store_read([said(n, "uid-ada", NOW + timedelta(minutes=n)) for n in range(3)])
    assert proto.need == ReadLatest(3)
    proto.store_read([said(n, "uid-ada", NOW + timedelta(minutes=n)) for n in range(5, 8)])
    frame = proto.data_to_send().frame
    assert classes(frame) == ["msg msg--cont", "msg msg--cont"]  # 6 continues 5, which is not shown
    assert "Load older messages" in frame
