"""The live socket's core on its own: no socket, no app, no clock (time is a number we pass)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from quart_chat import notices
from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import GAP, Notice, Resync
from quart_chat.hub.memory import MemoryHub
from quart_chat.live_protocol import (
    CHECK_SESSION,
    READ_SIDEBAR,
    REMEMBERED_IDS,
    LiveProtocol,
    ReadAfter,
    ReadLatest,
)
from quart_chat.models import Message
from quart_chat.rendering import ZERO_CURSOR, Renderer
from quart_chat.rows import Author, Row
from quart_chat.sidebar import Entry, Sidebar

RENDERER = Renderer()
T0 = datetime(2024, 1, 1, tzinfo=UTC)
LOGIN = "/login?next=/rooms/general"
ROW_ID = re.compile(r'<li class="msg[^"]*" id="m-([^"]+)"')


def msg(n: int) -> Message:
    return Message(f"{n:04d}", "general", "u", "ada", f"m{n}", T0 + timedelta(seconds=n))


def live(m: Message, stored_at: float = 0.0) -> Broadcast:
    return Broadcast(Row(m, Author("Ada", "ada", "red")), stored_at)


def core(after: str = ZERO_CURSOR, **overrides: float | str) -> LiveProtocol:
    options = dict(catchup_limit=5, page_size=3, heartbeat=5.0, revocation_interval=300.0, now=0.0) | overrides
    return LiveProtocol(room="general", after=after, renderer=RENDERER, login_href=LOGIN, **options)


def connected(proto: LiveProtocol, history: list[Message]) -> str:
    """Answer the first read and take the first frame."""
    assert proto.need == ReadAfter(proto.after, proto.catchup_limit + 1)
    proto.store_read(history)
    out = proto.data_to_send()
    assert out is not None
    return out.frame


def ids(frame: str) -> list[str]:
    return ROW_ID.findall(frame)


def test_first_frame_is_the_rows_the_page_lacks_then_live_status() -> None:
    proto = core(after=msg(1).cursor)
    frame = connected(proto, [msg(2), msg(3)])
    assert ids(frame) == ["0002", "0003"]
    assert frame.index("<hx-upsert") < frame.index('class="live-status live"')
    assert proto.need is None and proto.data_to_send() is None  # nothing more until something happens


def test_a_page_far_behind_is_reset_to_the_latest_page() -> None:
    proto = core()
    proto.store_read([msg(n) for n in range(6)])  # catchup_limit + 1 rows: too many
    assert proto.need == ReadLatest(4) and proto.data_to_send() is None
    proto.store_read([msg(n) for n in range(6, 10)])
    frame = proto.data_to_send().frame
    assert ids(frame) == ["0007", "0008", "0009"]
    assert 'hx-swap="innerHTML"' in frame and "Load older messages" in frame
    assert "/rooms/general/history?before=" + msg(7).cursor in frame


def test_live_rows_already_sent_by_catch_up_are_skipped_and_counted_once() -> None:
    proto = core()
    connected(proto, [msg(1), msg(2)])
    proto.woke([live(msg(2), 100.0), live(msg(3), 101.0), live(msg(3), 101.0)], now=1.0)
    out = proto.data_to_send()
    assert ids(out.frame) == ["0003"]
    assert out.delivered == 1 and out.stored_at == (101.0,)
    proto.woke([live(msg(3))], now=2.0)
    assert proto.data_to_send() is None  # a duplicate alone sends nothing (no status either: not due)


def test_ids_are_forgotten_oldest_first_beyond_the_bound() -> None:
    proto = core()
    connected(proto, [])
    proto.woke([live(msg(n)) for n in range(REMEMBERED_IDS + 1)], now=1.0)
    proto.data_to_send()
    proto.woke([live(msg(0)), live(msg(REMEMBERED_IDS))], now=2.0)
    assert ids(proto.data_to_send().frame) == ["0000"]  # the oldest was forgotten; the newest was not


def test_heartbeat_when_idle_and_only_when_due_when_busy() -> None:
    proto = core(heartbeat=5.0)
    connected(proto, [])
    proto.woke([], now=5.0)  # the wait timed out: idle
    assert proto.data_to_send().frame.count('class="live-status live"') == 1
    proto.woke([live(msg(1))], now=6.0)
    assert "live-status" not in proto.data_to_send().frame  # busy, last status 1 s ago
    proto.woke([live(msg(2))], now=10.0)
    assert "live-status" in proto.data_to_send().frame


def test_direct_fragments_go_after_rows_in_one_frame() -> None:
    proto = core()
    connected(proto, [])
    proto.woke([live(msg(1)), "<composer/>", live(msg(2))], now=1.0)
    out = proto.data_to_send()
    assert ids(out.frame) == ["0001", "0002"] and out.frame.endswith("<composer/>")
    assert out.delivered == 2


def test_resync_rereads_from_a_little_before_the_newest_rows_sent() -> None:
    proto = core(after=msg(0).cursor)
    connected(proto, [msg(1), msg(2)])
    proto.woke([Resync()], now=1.0)
    assert proto.need == ReadAfter(msg(1).cursor, 6)  # the oldest of the recent rows
    proto.store_read([msg(2), msg(3)])
    assert ids(proto.data_to_send().frame) == ["0003"]


def test_resync_reaches_back_to_the_gap_and_to_since_but_never_before_the_page() -> None:
    proto = core(after=msg(5).cursor)
    connected(proto, [msg(6)])
    proto.woke([GAP, live(msg(7)), live(msg(8))], now=1.0)
    proto.data_to_send()
    proto.woke([Resync()], now=2.0)
    assert proto.need == ReadAfter(msg(6).cursor, 6)  # from where the outage began, not from 7
    proto.store_read([])
    proto.woke([Resync(since=msg(2).cursor)], now=3.0)
    assert proto.need == ReadAfter(msg(5).cursor, 6)  # the page already holds everything up to 5


def test_revocation_is_checked_busy_or_idle_once_due_and_a_signed_out_user_gets_nothing_more() -> None:
    proto = core(revocation_interval=10.0)
    connected(proto, [])
    proto.woke([live(msg(1))], now=9.0)
    assert proto.need is None
    proto.data_to_send()
    proto.woke([live(msg(2))], now=10.0)  # busy, and due
    assert proto.need is CHECK_SESSION and proto.data_to_send() is None
    proto.session_checked(True)
    assert ids(proto.data_to_send().frame) == ["0002"]
    proto.woke([], now=20.0)  # idle, and due
    assert proto.need is CHECK_SESSION
    proto.session_checked(None)  # cannot tell: keep the socket
    assert proto.closing is None and "live-status" in proto.data_to_send().frame
    proto.woke([live(msg(3))], now=30.0)
    proto.session_checked(False)
    assert proto.data_to_send() is None and proto.need is None
    assert proto.closing.code == Close.POLICY_VIOLATION
    assert "You are signed out." in proto.closing.fragment and LOGIN in proto.closing.fragment


def test_close_requests_say_signed_out_or_reconnecting_and_the_first_one_wins() -> None:
    for code, shown in (
        (Close.POLICY_VIOLATION, "You are signed out."),
        (Close.SERVICE_RESTART, "Reconnecting…"),
        (Close.TRY_AGAIN_LATER, "Reconnecting…"),
    ):
        proto = core()
        connected(proto, [])
        proto.close_requested(code, "why")
        proto.close_requested(Close.INTERNAL_ERROR, "later")
        assert (proto.closing.code, proto.closing.reason) == (code, "why")
        assert shown in proto.closing.fragment
        assert proto.data_to_send() is None


def test_a_store_failure_closes_with_1011_so_the_browser_retries() -> None:
    proto = core()
    proto.store_failed()
    assert proto.closing.code == Close.INTERNAL_ERROR and "Reconnecting" in proto.closing.fragment
    assert proto.need is None and proto.data_to_send() is None


def test_a_sign_out_notice_closes_only_the_session_it_names() -> None:
    proto = core(session=notices.session_id("token-a"))
    connected(proto, [])
    other = notices.signed_out("token-b")  # her other browser signed out: this one stays
    proto.woke([Notice("ada", other), Notice("ada", {"kind": "something-new"})], now=1.0)
    assert proto.closing is None
    proto.woke([Notice("ada", notices.signed_out("token-a"))], now=2.0)
    assert proto.closing is not None and proto.closing.code == Close.POLICY_VIOLATION
    assert "You are signed out." in proto.closing.fragment and LOGIN in proto.closing.fragment
    assert proto.data_to_send() is None  # nothing more for a signed-out session
    sessionless = core()  # a core that knows no session ignores every sign-out
    connected(sessionless, [])
    sessionless.woke([Notice("ada", {"kind": notices.SIGNED_OUT, "session": ""})], now=1.0)
    assert sessionless.closing is None


def test_a_sign_out_that_ended_every_session_closes_every_socket_of_the_person() -> None:
    """Firebase's sign-out revokes all of a person's sessions: a notice with scope "all" closes this
    socket too, though it names another session (review of issue 9, finding 2)."""
    proto = core(session=notices.session_id("token-a"))
    connected(proto, [])
    everywhere = notices.signed_out("token-b", every_session=True)
    assert everywhere["scope"] == notices.SCOPE_ALL and notices.signed_out("token-b")["scope"] == notices.SCOPE_SESSION
    proto.woke([Notice("ada", everywhere)], now=1.0)
    assert proto.closing is not None and proto.closing.code == Close.POLICY_VIOLATION
    assert "You are signed out." in proto.closing.fragment


async def test_a_burst_of_notices_keeps_the_socket_and_renders_the_whole_sidebar_again() -> None:
    """Through a real subscription: more notices than its buffer holds, before the writer drains."""
    hub = MemoryHub(queue_size=8)
    sidebar = Sidebar(viewer="bob", current="general", label="#general", path="/rooms/general")
    proto = core(sidebar=sidebar)
    design = Entry("design", "room", "#design", "/rooms/design")
    async with hub.subscribe("general", person="bob") as sub:
        assert proto.need == ReadAfter(ZERO_CURSOR, 6)
        proto.store_read([])
        assert proto.need is READ_SIDEBAR
        proto.sidebar_read([design])
        assert 'id="sidebar"' in proto.data_to_send().frame
        for n in range(200):  # a burst of news from a busy room, all while the writer is busy elsewhere
            message = Message(f"{n:04d}", "design", "ada", "Ada", "hi", T0 + timedelta(seconds=n))
            await hub.notify("bob", notices.unread("design", message, False))
        assert sub.close_request is None  # not closed 1013: nothing of the room was lost
        proto.woke(sub.drain(256), now=1.0)
        assert proto.closing is None
        assert proto.need is CHECK_SESSION  # a sign-out may have been among the dropped: asked at once
        proto.session_checked(True)
        assert proto.need is READ_SIDEBAR  # and the counts come from the store again
        proto.sidebar_read([Entry("design", "room", "#design", "/rooms/design", unread=99)])
        frame = proto.data_to_send().frame
        assert 'id="sidebar"' in frame and 'data-unread="99"' in frame  # the whole sidebar, re-rendered


# -- edits and deletions (issue 10) ----------------------------------------------------------------

CHANGED_ID = re.compile(r'<hx-partial hx-target="#m-([^"]+)" hx-swap="outerHTML"[^>]*><li')


def changed(m: Message, seconds: int, text: str | None = None, *, deleted: bool = False) -> Message:
    """A later version of ``m``, changed ``seconds`` after T0."""
    return dataclasses.replace(
        m, text="" if deleted else (text or m.text + "!"), changed_at=T0 + timedelta(seconds=seconds), deleted=deleted
    )


def test_a_changed_row_replaces_its_row_by_id_and_only_a_newer_version_goes_out() -> None:
    proto = core(changed=0)
    proto.store_read([msg(1), msg(2)])
    proto.data_to_send()
    edit, delete = changed(msg(1), 100, "fixed"), changed(msg(1), 200, deleted=True)
    proto.woke([live(edit)], now=1.0)
    frame = proto.data_to_send().frame
    assert CHANGED_ID.findall(frame) == ["0001"] and "fixed" in frame and "(edited)" in frame
    assert "<hx-upsert" not in frame  # a partial aimed at the row, never an insert out of context
    # The same edit again (catch-up and hub both), a late original, an older edit: nothing goes out.
    proto.woke([live(edit), live(msg(1)), live(changed(msg(1), 50, "older"))], now=2.0)
    assert proto.data_to_send() is None
    proto.woke([live(delete)], now=3.0)
    frame = proto.data_to_send().frame
    assert CHANGED_ID.findall(frame) == ["0001"] and "message deleted" in frame and "fixed" not in frame
    proto.woke([live(edit)], now=4.0)  # an edit that lands after the deletion cannot bring the text back
    assert proto.data_to_send() is None


def test_a_reconnect_reads_the_changes_since_the_pages_change_cursor_and_a_resync_since_the_last_seen() -> None:
    proto = core(after=msg(2).cursor, changed=7)
    assert proto.need == ReadAfter(msg(2).cursor, 6, 7)
    edit = changed(msg(1), 100, "fixed")
    proto.store_read([msg(3)], msg(2), changes=[(edit, None)])
    frame = proto.data_to_send().frame
    assert ids(frame) == ["0003", "0001"] and CHANGED_ID.findall(frame) == ["0001"]
    proto.woke([Resync(None)], now=1.0)
    assert isinstance(proto.need, ReadAfter) and proto.need.changes_since == edit.version
    proto.store_read([], changes=[(edit, None)])  # seen already: not sent again
    out = proto.data_to_send()
    assert out is None or not CHANGED_ID.search(out.frame)


def test_too_many_changes_to_catch_up_reset_the_page_and_a_page_without_a_change_cursor_reads_none() -> None:
    proto = core(changed=0)
    proto.store_read([], changes=[(changed(msg(n), 100 + n), None) for n in range(6)])
    assert proto.need == ReadLatest(4)
    assert core().need == ReadAfter(ZERO_CURSOR, 6, None)  # an older page's socket: rows only
