"""The Redis hub's pure parts, without Redis: the wire codec, missed rooms, back-off, outbox, confirmations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime

import pytest

from quart_chat.hub import Broadcast
from quart_chat.hub.backoff import BACKOFF_MAX, BACKOFF_MIN, Backoff
from quart_chat.hub.confirmations import Confirmations, settled
from quart_chat.hub.fanout import Notice, Resync
from quart_chat.hub.missed import MissedRooms
from quart_chat.hub.outbox import PUBLISH_BATCH, Outbox
from quart_chat.hub.wire import (
    NOTICE_CHUNK,
    Malformed,
    channel_for,
    decode,
    decode_notice,
    decode_notices,
    encode_notice,
    encode_notices,
    encode_resync,
    encode_row,
    person_channel,
    person_of,
    room_of,
)
from quart_chat.models import Message
from quart_chat.rows import Author, Row

AT = datetime(2026, 11, 29, 13, 5, 7, 123456, tzinfo=UTC)
MESSAGE = Message("42", "général", "uid-ada", "Ada", "é & 🎉 <b> @bob", AT, (("bob", "uid-bob"),))
ROW = Broadcast(Row(MESSAGE, Author("Ada L.", "ada", "teal"), True, AT.replace(second=1)), stored_at=123.0)


# -- wire -----------------------------------------------------------------------------------------


def test_a_row_crosses_the_wire_intact_but_for_its_local_timing() -> None:
    data = encode_row("a", ROW)
    assert json.loads(data) == {
        "i": "a",
        "room": "général",
        "id": "42",
        "at": 1795957507123456,
        "uid": "uid-ada",
        "stored_name": "Ada",
        "text": "é & 🎉 <b> @bob",
        "name": "Ada L.",
        "handle": "ada",
        "colour": "teal",
        "cont": True,
        "prev": 1795957501123456,
        "mentions": [["bob", "uid-bob"]],
        "changed": None,
        "deleted": False,
    }  # what the row needs, not its HTML: each viewer sees it in their own zone
    assert "é".encode() in data  # UTF-8 as is, not \\u escapes
    got = decode("général", data, own="b")
    assert got == Broadcast(ROW.row) and got.stored_at == 0.0  # stored_at stays home
    assert got.cursor == ROW.cursor and got.row.message.created_at == AT  # to the microsecond
    first = Broadcast(Row(MESSAGE, Author("Ada", "", "red")))  # the room's first row, no handle yet
    assert decode("général", encode_row("a", first), own="b") == first
    older = json.loads(data)
    del older["mentions"]  # from an instance that does not know mentions yet (a rolling deploy)
    assert decode("général", json.dumps(older).encode(), own="b").row.message.mentions == ()


def test_a_notice_crosses_a_persons_channel_and_nothing_else_passes_for_one() -> None:
    data = encode_notice("a", "uid-ada", {"kind": "read", "place": "general"})
    assert person_of(person_channel("uid-ada").encode()) == "uid-ada" and person_of(b"quart-chat:room:r") is None
    assert decode_notice("uid-ada", data, own="b") == Notice("uid-ada", {"kind": "read", "place": "general"})
    assert decode_notice("uid-ada", data, own="a") is None  # our own echo
    for bad in (
        data.replace(b"uid-ada", b"uid-eve"),  # another person than the channel's: not for them
        b'{"i": "a", "person": "uid-ada", "notice": {"kind": 1}}',
        b'{"i": "a", "person": "uid-ada", "notice": ["read"]}',
        b'{"i": "a", "person": "uid-ada"}',
        b"not json",
    ):
        with pytest.raises(Malformed):
            decode_notice("uid-ada", bad, own="b")


def test_a_notice_for_many_carries_its_people_and_nothing_else_passes_for_one() -> None:
    people = [f"uid-{n}" for n in range(NOTICE_CHUNK)]
    data = encode_notices("a", people, {"kind": "unread", "place": "general"})
    assert decode_notices(data, own="b") == (people, {"kind": "unread", "place": "general"})
    assert decode_notices(data, own="a") is None  # our own echo
    for bad in (
        encode_notices("a", [*people, "one too many"], {"kind": "unread"}),  # more than a frame carries
        b'{"i": "a", "people": "uid-ada", "notice": {"kind": "unread"}}',
        b'{"i": "a", "people": [1], "notice": {"kind": "unread"}}',
        b'{"i": "a", "people": ["uid-ada"], "notice": {"kind": 1}}',
        b'{"i": "a", "people": ["uid-ada"]}',
        b"not json",
    ):
        with pytest.raises(Malformed):
            decode_notices(bad, own="b")


def test_our_own_echo_decodes_to_nothing() -> None:
    assert decode("général", encode_row("a", ROW), own="a") is None
    assert decode("r", encode_resync("a", "r", "c1"), own="a") is None


def test_a_resync_notice_says_from_where() -> None:
    assert decode("r", encode_resync("a", "r", "c1"), own="b") == Resync(since="c1")
    assert decode("r", b'{"i":"a","room":"r","resync":1}', own="b") == Resync(since=None)


def test_an_edited_and_a_deleted_row_cross_the_wire_as_their_new_version() -> None:
    changed = AT.replace(minute=9)
    edited = Broadcast(Row(dataclasses.replace(MESSAGE, text="fixed", changed_at=changed), ROW.row.author))
    got = decode("général", encode_row("a", edited), own="b")
    assert got == edited and got.row.message.edited and got.row.message.version == edited.row.message.version
    gone = dataclasses.replace(MESSAGE, text="", mentions=(), changed_at=changed, deleted=True)
    got = decode("général", encode_row("a", Broadcast(Row(gone, ROW.row.author))), own="b")
    assert got.row.message == gone and got.row.message.deleted and got.row.message.text == ""


GOOD = json.loads(encode_row("x", ROW).decode().replace("général", "r"))


def _with(**changes: object) -> bytes:
    return json.dumps({k: v for k, v in (GOOD | changes).items() if v is not ...}).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"just a string"',
        b'{"i": "x"}',
        _with(room="elsewhere"),
        _with(id=1),
        _with(id=""),
        _with(text=...),
        _with(text=None),
        _with(name=["Ada"]),
        _with(colour="red; background: url(x)"),  # a class outside the palette
        _with(cont="yes"),
        _with(at="1795957507123456"),
        _with(at=True),
        _with(at=-1),
        _with(at=10**30),
        _with(prev="then"),
        _with(mentions=[["bob"]]),
        _with(mentions=[["bob", 7]]),
        _with(mentions="bob"),
        _with(deleted="yes"),
        _with(deleted=True),  # a deleted row that still carries its text
        _with(changed="later"),
        _with(changed=-5),
        b'{"i": "x", "room": "r", "resync": 1, "since": 7}',
    ],
)
def test_anything_else_is_malformed(data: bytes) -> None:
    in_r = dataclasses.replace(ROW.row, message=dataclasses.replace(MESSAGE, room="r"))
    assert decode("r", _with(), own="b") == Broadcast(in_r)  # the unbroken payload decodes
    with pytest.raises(Malformed):
        decode("r", data, own="b")


def test_channels_name_their_room() -> None:
    assert channel_for("général") == "quart-chat:room:général"
    assert room_of(channel_for("général").encode()) == "général"


# -- missed rooms ---------------------------------------------------------------------------------


def test_missed_rooms_keep_the_earliest_cursor_per_room_and_are_taken_once() -> None:
    missed = MissedRooms()
    missed.add("b", "0002")
    missed.add("a", "0005")
    missed.add("b", "0001")
    missed.add("b", "0003")
    assert len(missed) == 2
    assert missed.take() == [("a", "0005"), ("b", "0001")]  # room order, each from its first lost row
    assert missed.take() == [] and len(missed) == 0


# -- back-off -------------------------------------------------------------------------------------


def test_backoff_doubles_from_the_minimum_up_to_the_maximum() -> None:
    backoff = Backoff(uniform=lambda low, high: 1.0)  # no jitter
    delays = []
    for _ in range(10):
        backoff.failed()
        delays.append(backoff.delay())
    assert delays[:4] == pytest.approx([BACKOFF_MIN, 2 * BACKOFF_MIN, 4 * BACKOFF_MIN, 8 * BACKOFF_MIN])
    assert delays[-1] == BACKOFF_MAX and max(delays) == BACKOFF_MAX
    backoff.succeeded()
    backoff.failed()
    assert backoff.delay() == pytest.approx(BACKOFF_MIN)  # a link that worked, then broke: retry soon


def test_backoff_jitter_stays_within_its_bounds() -> None:
    backoff = Backoff(low=1.0, high=1.0, jitter=0.3)
    delays = [backoff.delay() for _ in range(200)]
    assert all(0.7 <= d <= 1.3 for d in delays)
    assert len(set(delays)) > 1  # instances do not retry in step


# -- outbox ---------------------------------------------------------------------------------------


async def test_the_outbox_sends_oldest_first_and_keeps_rows_until_redis_has_them() -> None:
    outbox = Outbox(maxsize=3)
    for n in range(3):
        outbox.put(f"room-{n % 2}", f"c{n}", b"%d" % n)
    assert [q.payload for q in outbox.batch(2)] == [b"0", b"1"]
    assert len(outbox) == 3  # still queued: a broken link must count them as missed
    outbox.sent(2)
    assert [q.payload for q in outbox.batch()] == [b"2"]
    outbox.put("room-1", "c3", b"3")
    assert not outbox.full
    outbox.put("room-0", "c4", b"4")
    assert outbox.full
    assert outbox.unsent() == [("room-0", "c2"), ("room-1", "c3"), ("room-0", "c4")]  # in the order sent
    assert len(outbox) == 0


async def test_the_outbox_batches_at_most_one_pipeline() -> None:
    outbox = Outbox()
    for n in range(PUBLISH_BATCH + 3):
        outbox.put("r", f"c{n}", b"x")
    assert len(outbox.batch()) == PUBLISH_BATCH


async def test_the_outbox_wakes_the_publisher_and_whoever_waits_for_it_to_empty() -> None:
    outbox = Outbox()
    await asyncio.wait_for(outbox.wait_empty(), 1)  # empty from the start
    ready = asyncio.create_task(outbox.wait_ready())
    await asyncio.sleep(0)  # one turn of the loop: it is now waiting
    assert not ready.done()
    outbox.put("r", "c", b"x")
    await asyncio.wait_for(ready, 1)
    empty = asyncio.create_task(outbox.wait_empty())
    await asyncio.sleep(0)
    assert not empty.done()
    outbox.sent(1)
    await asyncio.wait_for(empty, 1)


# -- confirmations --------------------------------------------------------------------------------


async def test_confirmations_resolve_in_the_order_the_subscribes_were_sent() -> None:
    confirmations = Confirmations()
    first, second = confirmations.expect("r"), confirmations.expect("r")
    assert confirmations.latest("r") is second
    confirmations.confirmed("r")
    assert first.result() is True and not second.done()
    confirmations.confirmed("r")
    assert second.result() is True
    confirmations.confirmed("r")  # an unexpected confirmation is ignored
    confirmations.forget("r")
    assert confirmations.latest("r") is None


async def test_a_broken_link_wakes_every_waiter_with_false() -> None:
    confirmations = Confirmations()
    waiting = confirmations.expect("r")
    confirmations.fail_all()
    assert waiting.result() is False and confirmations.latest("r") is None


async def test_settled_waits_without_cancelling_the_shared_future() -> None:
    confirmations = Confirmations()
    fut = confirmations.expect("r")
    assert await settled(fut, 0.01) is False
    assert not fut.cancelled()  # another socket in the room may still wait on it
    confirmations.confirmed("r")
    assert await settled(fut, 0.01) is True
