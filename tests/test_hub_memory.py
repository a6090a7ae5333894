"""The hub's policies, without sockets: bounded queues, slow consumers, rooms apart."""

import asyncio

from quart_chat.close_codes import Close
from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import RESYNC, LocalFanout
from quart_chat.hub.memory import MemoryHub


def row(i: int, room: str = "general") -> Broadcast:
    return Broadcast(room, str(i), f"{i:017d}-{i}", f"<li>{i}</li>")


async def test_publish_reaches_every_subscriber_of_the_room_only() -> None:
    hub = MemoryHub(queue_size=8)
    async with hub.subscribe("general") as a, hub.subscribe("general") as b, hub.subscribe("other") as c:
        await hub.publish(row(1))
        assert a.drain(10) == [row(1)] and b.drain(10) == [row(1)]
        assert c.drain(10) == []


async def test_a_full_queue_closes_that_subscriber_with_1013_and_spares_the_rest() -> None:
    hub = MemoryHub(queue_size=3)
    async with hub.subscribe("general") as slow, hub.subscribe("general") as fast:
        for i in range(5):
            await hub.publish(row(i))
            fast.drain(10)  # the fast one keeps up
        assert slow.close_request is not None and slow.close_request.code == Close.TRY_AGAIN_LATER
        assert len(slow) == 0  # its backlog is dropped: bounded memory, it catches up from the store
        assert fast.close_request is None
        await hub.publish(row(9))
        assert fast.drain(10) == [row(9)]
        assert hub.fanout.slow_consumers_closed == 1  # once per subscriber, not per dropped row


async def test_wait_wakes_on_publish_and_times_out_when_idle() -> None:
    hub = MemoryHub()
    async with hub.subscribe("general") as sub:
        assert await sub.wait(timeout=0.01) is False
        waiter = asyncio.create_task(sub.wait(timeout=2))
        await asyncio.sleep(0)
        await hub.publish(row(1))
        assert await waiter is True


async def test_drain_takes_a_bounded_batch_in_order() -> None:
    hub = MemoryHub(queue_size=100)
    async with hub.subscribe("general") as sub:
        for i in range(10):
            await hub.publish(row(i))
        assert [b.message_id for b in sub.drain(4)] == ["0", "1", "2", "3"]
        assert [b.message_id for b in sub.drain(100)] == [str(i) for i in range(4, 10)]


async def test_unsubscribe_on_exit_and_close_all() -> None:
    hub = MemoryHub()
    async with hub.subscribe("general") as sub:
        assert hub.fanout.connection_count == 1
        hub.close_all(1012, "restart")
        assert sub.close_request is not None and sub.close_request.code == 1012
        assert await sub.wait(timeout=0.01) is True
    assert hub.fanout.connection_count == 0 and hub.fanout.rooms() == []


def test_fanout_reports_first_and_last_subscriber_of_a_room() -> None:
    fanout = LocalFanout(4)
    a, first = fanout.add("r")
    b, second = fanout.add("r")
    assert first and not second
    assert fanout.remove(a) is False
    assert fanout.remove(b) is True


def test_resync_marker_reaches_everyone() -> None:
    fanout = LocalFanout(4)
    a, _ = fanout.add("r1")
    b, _ = fanout.add("r2")
    fanout.resync_all()
    assert a.drain(5) == [RESYNC] and b.drain(5) == [RESYNC]
