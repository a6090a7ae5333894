"""The memory hub: the hub contract in one process, plus the local fan-out's own bookkeeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from quart_chat.close_codes import Close
from quart_chat.hub.fanout import RESYNC, LocalFanout
from quart_chat.hub.memory import MemoryHub
from tests.contracts.hub_contract import QUEUE_SIZE, Bus, HubContract, OpenBus, row


async def nothing_in_flight() -> None:
    """Delivery is synchronous: once publish returns, every subscriber has the row."""


@pytest.fixture
def open_bus() -> OpenBus:
    @asynccontextmanager
    async def open_bus(queue_size: int = QUEUE_SIZE) -> AsyncIterator[Bus]:
        hub = MemoryHub(queue_size=queue_size)
        await hub.start()
        try:
            yield Bus(hub, hub, nothing_in_flight)  # one process: the hub is its own peer
        finally:
            await hub.stop()

    return open_bus


class TestMemoryHub(HubContract):
    async def test_a_slow_consumer_is_counted_once_not_per_dropped_row(self) -> None:
        hub = MemoryHub(queue_size=3)
        async with hub.subscribe("general") as slow, hub.subscribe("general") as fast:
            for i in range(5):
                await hub.publish(row("general", i))
                fast.drain(10)  # the fast one keeps up
            assert slow.close_request is not None and slow.close_request.code == Close.TRY_AGAIN_LATER
            assert hub.fanout.slow_consumers_closed == 1

    async def test_drain_takes_a_bounded_batch_in_order(self) -> None:
        hub = MemoryHub(queue_size=100)
        async with hub.subscribe("general") as sub:
            for i in range(10):
                await hub.publish(row("general", i))
            assert [b.message_id for b in sub.drain(4)] == ["a0", "a1", "a2", "a3"]
            assert [b.message_id for b in sub.drain(100)] == [f"a{i}" for i in range(4, 10)]

    async def test_leaving_forgets_the_connection_and_its_room(self) -> None:
        hub = MemoryHub()
        async with hub.subscribe("general"):
            assert hub.fanout.connection_count == 1
        assert hub.fanout.connection_count == 0 and hub.fanout.rooms() == []


async def test_a_close_request_wakes_the_waiter() -> None:
    hub = MemoryHub()
    async with hub.subscribe("general") as sub:
        sub.request_close(Close.SERVICE_RESTART, "restart")
        assert sub.close_request is not None and sub.close_request.code == Close.SERVICE_RESTART
        assert await sub.wait(timeout=0.01) is True


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
