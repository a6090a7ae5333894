"""A page's sidebar as state, on its own: counts from the store plus notices, each message once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart_chat import notices
from quart_chat.models import Message, make_cursor
from quart_chat.sidebar import READ_FLUSH, Entry, Sidebar, badge, page_title
from quart_chat.store import UNREAD_CAP

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def msg(n: int, place: str = "random", author: str = "bob") -> Message:
    return Message(f"{n:04d}", place, author, "Bob", f"m{n}", T0 + timedelta(seconds=n))


def unread(n: int, place: str = "random", author: str = "bob", mention: bool = False) -> dict[str, str]:
    return notices.unread(place, msg(n, place, author), mention)


def sidebar(*entries: Entry) -> Sidebar:
    bar = Sidebar(viewer="ada", current="general", label="#general", path="/rooms/general")
    bar.loaded(entries or (Entry("general", "room", "#general", "/rooms/general"), random(2, 0, 2)))
    bar.take_changes()
    return bar


def random(count: int, mentions: int, latest: int) -> Entry:
    return Entry("random", "room", "#random", "/rooms/random", count, mentions, msg(latest).cursor)


def counts(bar: Sidebar) -> dict[str, tuple[int, int]]:
    return {e.key: (e.unread, e.mentions) for e in bar.entries()}


def test_notices_after_the_stores_count_add_to_it_once_each() -> None:
    bar = sidebar()
    bar.noticed(unread(1))  # already in the store's count (at or before its latest)
    bar.noticed(unread(2))
    assert counts(bar)["random"] == (2, 0)
    bar.noticed(unread(3, mention=True))
    bar.noticed(unread(3, mention=True))  # the same message twice: once
    bar.noticed(unread(4, author="ada"))  # one's own message is not news
    assert counts(bar)["random"] == (3, 1) and bar.unread_elsewhere() == 3
    whole, links, title = bar.take_changes()
    assert whole is None and [e.key for e in links] == ["random"] and title == "(3) #general · quart-chat"
    assert bar.take_changes() == (None, [], None)  # nothing new since


def test_the_current_place_is_being_read_and_shows_nothing() -> None:
    bar = sidebar()
    bar.noticed(unread(5, place="general"))
    assert counts(bar)["general"] == (0, 0) and bar.take_changes() == (None, [], None)


def test_a_read_elsewhere_takes_away_what_it_covers() -> None:
    bar = sidebar()
    for n in (3, 4, 5):
        bar.noticed(unread(n, mention=n == 5))
    bar.noticed(notices.read("random", msg(4).cursor))  # read on another device up to 4
    assert counts(bar)["random"] == (1, 1) and not bar.reload_needed
    bar.noticed(notices.read("random", msg(1).cursor))  # inside the store's part: cannot split it
    assert bar.reload_needed


def test_anything_that_changes_the_list_or_may_be_lost_reads_it_again() -> None:
    for change in (notices.joined("design"), notices.left("random")):
        bar = sidebar()
        bar.noticed(change)
        assert bar.reload_needed, change
    bar = sidebar()
    bar.noticed(unread(9, place="left-already"))  # not listed: its joining would say so itself
    assert not bar.reload_needed and bar.take_changes() == (None, [], None)
    bar = sidebar()
    bar.resynced()
    assert bar.reload_needed
    bar.loaded([random(0, 0, 9)])
    assert not bar.reload_needed and bar.take_changes()[0] == [random(0, 0, 9)]


def test_counts_stop_at_the_cap_and_badges_say_so() -> None:
    bar = sidebar(random(UNREAD_CAP - 1, 0, 0))
    for n in range(1, 10):
        bar.noticed(unread(n))
    assert counts(bar)["random"] == (UNREAD_CAP, 0) and badge(UNREAD_CAP) == "99+" and badge(7) == "7"
    assert page_title("#general", 0) == "#general · quart-chat"
    assert page_title("Ada", 150) == "(99+) Ada · quart-chat"


def test_the_read_cursor_is_recorded_at_most_every_flush_interval_and_at_the_end() -> None:
    bar = sidebar()
    assert bar.take_read(0.0) is None  # nothing shown yet
    bar.read_to(make_cursor(T0, "0001"))
    assert bar.take_read(0.0) == make_cursor(T0, "0001")
    bar.read_to(make_cursor(T0, "0002"))
    assert bar.take_read(READ_FLUSH / 2) is None  # too soon
    bar.read_to(make_cursor(T0, "0001"))  # an older row arriving late changes nothing
    assert bar.take_read(READ_FLUSH) == make_cursor(T0, "0002")
    bar.read_to(make_cursor(T0, "0003"))
    assert bar.take_read(READ_FLUSH + 0.1, final=True) == make_cursor(T0, "0003")
    assert bar.take_read(100.0, final=True) is None
