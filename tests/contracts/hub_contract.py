"""The hub's behaviour, specified once and run against every hub.

A test module subclasses :class:`HubContract` and provides an ``open_bus`` fixture: a
callable that opens (as an async context manager) a :class:`Bus` of two started hubs that
hear each other, and stops them on exit. The contract publishes on ``bus.hub`` and listens
on both, so each case covers the publisher's own sockets and another instance's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from itertools import batched
from typing import Protocol

from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast, Hub
from quart_chat.hub.fanout import NOTICE_BUFFER, NOTICES_LOST, Gap, Notice, NoticesLost, Resync, Subscription
from quart_chat.models import Message, parse_cursor
from quart_chat.rows import Author, Row

Item = Broadcast | Resync | Gap | Notice | NoticesLost | str
QUEUE_SIZE = 256


@dataclass
class Bus:
    hub: Hub  # where the contract publishes
    peer: Hub  # another instance on the same bus; a one-process hub is its own peer
    settle: Callable[[], Awaitable[None]]  # returns once every row published so far has reached every subscriber


class OpenBus(Protocol):
    def __call__(self, queue_size: int = QUEUE_SIZE) -> AbstractAsyncContextManager[Bus]: ...


def row(room: str, n: int, origin: str = "a") -> Broadcast:
    at, message_id = parse_cursor(f"{n:017d}-{origin}{n}")
    message = Message(message_id, room, f"uid-{origin}", origin, f"{room} {origin}{n}", at)
    return Broadcast(Row(message, Author(f"Person {origin}", f"person-{origin}", "blue"), n > 0))


async def take(sub: Subscription, count: int, timeout: float = 5.0) -> list[Item]:
    """Exactly ``count`` items, or a TimeoutError."""
    got: list[Item] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            await sub.wait()
            got.extend(sub.drain(count - len(got)))
    return got


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> float:
    """Wait for a condition; returns the seconds it took."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
    return time.monotonic() - start


class HubContract:
    async def test_healthy_after_start(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus:
            assert bus.hub.healthy and bus.peer.healthy

    async def test_a_row_reaches_every_subscriber_of_its_room_and_no_other(self, open_bus: OpenBus) -> None:
        async with (
            open_bus() as bus,
            bus.hub.subscribe("general") as own,
            bus.peer.subscribe("general") as first,
            bus.peer.subscribe("general") as second,
            bus.hub.subscribe("other") as own_other,
            bus.peer.subscribe("other") as other,
        ):
            await bus.hub.publish(row("general", 1))
            for sub in (own, first, second):
                assert await take(sub, 1) == [row("general", 1)]
            await bus.settle()
            for sub in (own, first, second, own_other, other):
                assert sub.drain(100) == []  # once each, and nothing in the other room

    async def test_the_publishers_own_subscribers_get_it_with_no_one_else_listening(
        self, open_bus: OpenBus
    ) -> None:
        async with open_bus() as bus, bus.hub.subscribe("general") as own:
            await bus.hub.publish(row("general", 1))
            assert await take(own, 1) == [row("general", 1)]
            await bus.settle()
            assert own.drain(100) == []  # no echo of its own row

    async def test_rows_from_one_publisher_keep_their_order(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus, bus.hub.subscribe("general") as on_a, bus.peer.subscribe("general") as on_b:
            from_a = [row("general", n, "a") for n in range(50)]
            from_b = [row("general", n, "b") for n in range(50)]
            for ra, rb in zip(from_a, from_b, strict=True):
                await bus.hub.publish(ra)
                await bus.peer.publish(rb)
            for sub in (on_a, on_b):
                got = await take(sub, 100)
                assert [r for r in got if r in from_a] == from_a  # each publisher's rows in its order
                assert [r for r in got if r in from_b] == from_b
            await bus.settle()
            assert on_a.drain(1000) == [] and on_b.drain(1000) == []  # no duplicates

    async def test_a_slow_consumer_is_closed_with_1013_and_never_blocks_the_others(self, open_bus: OpenBus) -> None:
        async with (
            open_bus(queue_size=8) as bus,
            bus.peer.subscribe("r") as slow,
            bus.hub.subscribe("r") as slow_local,
            bus.peer.subscribe("r") as fast,
        ):
            sent = [row("r", n) for n in range(40)]
            received: list[Item] = []
            publishing = 0.0
            for chunk in batched(sent, 4, strict=True):
                for r in chunk:
                    started = time.monotonic()
                    await bus.hub.publish(r)
                    publishing += time.monotonic() - started
                received += await take(fast, len(chunk))  # the fast one keeps up
            assert received == sent
            assert publishing < 1.0  # publish never waited on the stuck readers
            for sub in (slow, slow_local):
                assert sub.close_request is not None and sub.close_request.code == Close.TRY_AGAIN_LATER
                assert len(sub) == 0  # its backlog is dropped: bounded memory, it catches up from the store
            assert fast.close_request is None
            await bus.hub.publish(row("r", 99))
            assert await take(fast, 1) == [row("r", 99)]

    async def test_unsubscribing_stops_delivery(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus:
            async with bus.hub.subscribe("r") as gone_local, bus.peer.subscribe("r") as gone:
                await bus.hub.publish(row("r", 1))
                assert await take(gone_local, 1) == [row("r", 1)] and await take(gone, 1) == [row("r", 1)]
            async with bus.hub.subscribe("r") as witness_local, bus.peer.subscribe("r") as witness:
                await bus.hub.publish(row("r", 2))
                assert await take(witness_local, 1) == [row("r", 2)] and await take(witness, 1) == [row("r", 2)]
                await bus.settle()
            assert gone_local.drain(10) == [] and gone.drain(10) == []

    async def test_wait_wakes_on_a_row_and_times_out_when_idle(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus, bus.peer.subscribe("general") as sub:
            assert await sub.wait(timeout=0.01) is False
            waiter = asyncio.create_task(sub.wait(timeout=5))
            await asyncio.sleep(0)  # one turn of the loop: the waiter is now asleep on the queue
            assert not waiter.done()
            await bus.hub.publish(row("general", 1))
            assert await waiter is True

    async def test_start_and_stop_are_idempotent(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus:
            await bus.hub.start()  # again: no second link, so no second delivery
            assert bus.hub.healthy
            async with bus.peer.subscribe("r") as sub:
                await bus.hub.publish(row("r", 1))
                assert await take(sub, 1) == [row("r", 1)]
                await bus.settle()
                assert sub.drain(10) == []
            await bus.hub.stop()
            await bus.hub.stop()  # and open_bus stops it once more on exit

    async def test_a_signal_reaches_every_instances_handler_once_rooms_apart(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus:
            heard: dict[str, list[tuple[str, dict[str, str]]]] = {"hub": [], "peer": []}
            bus.hub.on_signal(lambda room, data: heard["hub"].append((room, data)))
            if bus.peer is not bus.hub:
                bus.peer.on_signal(lambda room, data: heard["peer"].append((room, data)))
            async with (  # an instance hears a room's signals while it serves the room (has sockets there)
                bus.hub.subscribe("general"),
                bus.hub.subscribe("other"),
                bus.peer.subscribe("general") as listening,
                bus.peer.subscribe("other"),
            ):
                await bus.hub.signal("general", {"kind": "typing", "uid": "u1"})
                assert heard["hub"] == [("general", {"kind": "typing", "uid": "u1"})]  # here, at once
                await bus.peer.signal("other", {"kind": "presence"})
                await bus.settle()
                expected = [("general", {"kind": "typing", "uid": "u1"}), ("other", {"kind": "presence"})]
                for name, got in heard.items():
                    if bus.peer is not bus.hub or name == "hub":
                        assert sorted(got) == sorted(expected), name  # each once, in its own room
                assert listening.drain(10) == []  # a signal is for handlers, never a socket's queue

    async def test_offer_room_reaches_this_instances_subscribers_of_that_room_only(self, open_bus: OpenBus) -> None:
        async with (
            open_bus() as bus,
            bus.hub.subscribe("general") as here,
            bus.hub.subscribe("other") as elsewhere,
            bus.peer.subscribe("general") as there,
        ):
            bus.hub.offer_room("general", "<p>presence</p>")
            assert here.drain(10) == ["<p>presence</p>"]
            await bus.settle()
            assert elsewhere.drain(10) == []
            if bus.peer is not bus.hub:
                assert there.drain(10) == []  # the peer renders its own

    async def test_a_notice_reaches_every_socket_of_its_person_on_every_instance_once(self, open_bus: OpenBus) -> None:
        async with (
            open_bus() as bus,
            bus.hub.subscribe("general", person="ada") as ada_here,
            bus.peer.subscribe("random", person="ada") as ada_there,  # her other tab, in another room
            bus.peer.subscribe("random", person="ada") as ada_again,
            bus.peer.subscribe("random", person="bob") as bob,
            bus.peer.subscribe("random") as nobody,  # a room's socket follows no one
        ):
            notice = {"kind": "unread", "place": "design"}
            await bus.hub.notify("ada", notice)
            for sub in (ada_here, ada_there, ada_again):
                assert await take(sub, 1) == [Notice("ada", notice)]
            await bus.settle()
            for sub in (ada_here, ada_there, ada_again, bob, nobody):
                assert sub.drain(10) == []  # once each; nobody else

    async def test_notices_from_one_instance_keep_their_order_and_so_do_its_rows(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus, bus.peer.subscribe("general", person="ada") as ada:
            rows, told = [], []
            for n in range(20):
                await bus.hub.publish(row("general", n))
                await bus.hub.notify("ada", {"n": str(n)})
                rows.append(row("general", n))
                told.append(Notice("ada", {"n": str(n)}))
            got = await take(ada, 40)
            assert [i for i in got if isinstance(i, Broadcast)] == rows  # rows and notices travel apart,
            assert [i for i in got if isinstance(i, Notice)] == told  # each in its order

    async def test_a_burst_of_notices_never_closes_a_socket_it_marks_its_sidebar_stale(self, open_bus: OpenBus) -> None:
        async with (
            open_bus(queue_size=8) as bus,
            bus.hub.subscribe("general", person="ada") as here,
            bus.peer.subscribe("general", person="ada") as there,
        ):
            for n in range(100):  # far more than the row queue holds, and than the notice buffer
                await bus.hub.notify("ada", {"kind": "unread", "n": str(n)})
            await bus.hub.publish(row("general", 1))
            await bus.settle()
            for sub in (here, there):
                assert sub.close_request is None  # no row was lost: the socket stays open
                got = sub.drain(100)
                assert got[0] == row("general", 1)
                assert NOTICES_LOST in got and len(got) <= 2 + NOTICE_BUFFER  # bounded; the page reloads its sidebar
            await bus.hub.notify("ada", {"kind": "unread", "n": "after"})
            for sub in (here, there):
                assert await take(sub, 1) == [Notice("ada", {"kind": "unread", "n": "after"})]  # and goes on

    async def test_leaving_stops_a_persons_notices_and_a_later_socket_gets_them_again(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus:
            async with bus.peer.subscribe("general", person="ada") as gone:
                await bus.hub.notify("ada", {"n": "1"})
                assert await take(gone, 1) == [Notice("ada", {"n": "1"})]
            await bus.hub.notify("ada", {"n": "lost"})  # nobody listens for ada now
            async with bus.peer.subscribe("general", person="ada") as back:
                await bus.hub.notify("ada", {"n": "2"})
                assert await take(back, 1) == [Notice("ada", {"n": "2"})]
                await bus.settle()
                assert back.drain(10) == []
            assert gone.drain(10) == []

    async def test_a_notice_for_many_reaches_each_of_them_on_every_instance_once(self, open_bus: OpenBus) -> None:
        crowd = [f"member-{n}" for n in range(2_500)]  # more than one frame's worth of people on the bus
        async with (
            open_bus() as bus,
            bus.hub.subscribe("general", person="member-0") as first_here,
            bus.peer.subscribe("random", person="member-1499") as middle_there,  # in the second frame
            bus.peer.subscribe("random", person="member-2499") as last_there,  # in the last
            bus.peer.subscribe("random", person="member-2499") as last_again,
            bus.peer.subscribe("random", person="outsider") as outsider,
            bus.peer.subscribe("random") as nobody,
        ):
            notice = {"kind": "unread", "place": "design"}
            await bus.hub.notify_many(crowd, notice)
            assert first_here.drain(10) == [Notice("member-0", notice)]  # its own instance's, at once
            assert await take(middle_there, 1) == [Notice("member-1499", notice)]
            for sub in (last_there, last_again):
                assert await take(sub, 1) == [Notice("member-2499", notice)]
            await bus.hub.notify_many([], notice)  # nobody: nothing at all
            await bus.settle()
            for sub in (first_here, middle_there, last_there, last_again, outsider, nobody):
                assert sub.drain(10) == []  # once each; nobody else

    async def test_notices_for_one_and_for_many_keep_their_order(self, open_bus: OpenBus) -> None:
        async with open_bus() as bus, bus.peer.subscribe("general", person="ada") as ada:
            sent: list[Item] = []
            for n in range(10):
                await bus.hub.notify("ada", {"n": f"one {n}"})
                await bus.hub.notify_many(["bob", "ada"], {"n": f"many {n}"})
                sent += [Notice("ada", {"n": f"one {n}"}), Notice("ada", {"n": f"many {n}"})]
            assert await take(ada, 20) == sent
