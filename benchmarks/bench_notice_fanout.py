"""What one message's sidebar notices cost the Redis hub in a big room: per member (before) or per room (now).

Starts its own redis-server on a free loopback port and a SQLite store in a temporary folder with one
room of ``--members`` members, and two RedisHub instances in this process: the sender's and a peer
where ``--open`` of the members have a page open. For each way of telling the members:

- ``per-member``: what ``membership.after_message`` did before finding 4, one ``Hub.notify`` (one
  PUBLISH, one outbox entry) per member;
- ``notify_many``: what it does now, ``Hub.notify_many``: one frame per ``wire.NOTICE_CHUNK`` members;

it sends ``--messages`` messages one after another and prints the PUBLISHes Redis ran (INFO
commandstats), the deepest the sender's outbox got, how many such messages in a row would fill the
outbox (``OUTBOX_MAX``, when the hub gives the link up as too slow) and the time from the first
message until every open page on the peer had all its notices. The redis-server is stopped by its
own pid at the end.

    python -m benchmarks.bench_notice_fanout [--members 5000] [--open 50] [--messages 5]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import platform
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script

import redis.asyncio as aioredis

from benchmarks.cli import within
from quart_chat import membership, notices
from quart_chat.hub.fanout import Notice, Subscription
from quart_chat.hub.outbox import OUTBOX_MAX
from quart_chat.hub.redis import RedisHub
from quart_chat.hub.wire import NOTICE_CHUNK
from quart_chat.membership import Members
from quart_chat.models import ZERO_CURSOR, Message
from quart_chat.places import Place
from quart_chat.store.sqlite import SqliteStore
from tests.support.redis_server import RedisServer, redis_server_binary

ROOM = "crowded"


async def per_member(store: SqliteStore, members: Members, hub: RedisHub, place: Place, message: Message) -> None:
    """The old ``after_message`` (before ``notify_many``): one notice, one PUBLISH, per member."""
    for m in await members.of(place.key):
        if m.uid != message.author_uid:
            await hub.notify(m.uid, notices.unread(place.key, message, False))


async def publishes(client: aioredis.Redis) -> int:
    return int((await client.info("commandstats")).get("cmdstat_publish", {}).get("calls", 0))


async def heard(sub: Subscription, count: int, patience: float = 5.0) -> int:
    """Notices that reach ``sub``, waiting for ``count`` (at most ``patience`` s after the last one)."""
    got = 0
    while got < count and await sub.wait(timeout=patience):
        got += sum(isinstance(i, Notice) for i in sub.drain(1024))
    return got


async def run(way: str, url: str, store: SqliteStore, open_pages: int, messages: int) -> dict[str, Any]:
    hub, peer = RedisHub(url, instance_id=f"sender-{way}"), RedisHub(url, instance_id=f"peer-{way}")
    client = aioredis.Redis.from_url(url)
    place = Place.room(ROOM)
    tell = per_member if way == "per-member" else membership.after_message
    async with AsyncExitStack() as stack:
        await hub.start()
        stack.push_async_callback(hub.stop)
        await peer.start()
        stack.push_async_callback(peer.stop)
        stack.push_async_callback(client.aclose)
        pages = [
            await stack.enter_async_context(peer.subscribe("elsewhere", person=f"u{n}"))
            for n in range(1, open_pages + 1)
        ]
        members = Members(store, hub)
        await members.of(place.key)  # the member list cached, as on a busy instance
        sent = [await store.add(ROOM, "u0", "Ada", f"m{i}") for i in range(messages)]
        deepest, real_put = 0, hub.outbox.put

        def put(*args: Any, **kwargs: Any) -> None:
            nonlocal deepest
            real_put(*args, **kwargs)
            deepest = max(deepest, len(hub.outbox))

        hub.outbox.put = put  # type: ignore[method-assign]
        before = await publishes(client)
        started = time.perf_counter()
        for message in sent:
            await tell(store, members, hub, place, message)
        got = await asyncio.gather(*(heard(p, messages) for p in pages))
        elapsed = time.perf_counter() - started
        await hub.outbox.wait_empty()
        count = await publishes(client) - before
    lost = open_pages * messages - sum(got)
    others = len(await members.of(place.key)) - 1
    entries = others if way == "per-member" else math.ceil(others / NOTICE_CHUNK)  # outbox entries a message makes
    return {
        "way": way,
        "entries_per_message": entries,
        "publishes": count,
        "deepest_outbox": deepest,
        "messages_to_fill_outbox": math.ceil(OUTBOX_MAX / entries),
        "ms_to_every_page": elapsed * 1000 if not lost else None,
        "lost": lost,
        "dropped": hub.dropped_signals,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=within(2, 200_000), default=5000)
    parser.add_argument("--open", type=within(1, 1000), default=50, help="members with a page open on the peer")
    parser.add_argument("--messages", type=within(1, 100), default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-notices-") as tmp, RedisServer(redis_server_binary()) as server:
        store = SqliteStore(Path(tmp) / "chat.sqlite3")
        await store.open()
        try:
            await store.db.executemany(
                "INSERT INTO memberships (uid, place, partner, read_cursor, joined_us) VALUES (?, ?, '', ?, 0)",
                [(f"u{n}", ROOM, ZERO_CURSOR) for n in range(args.members)],
            )
            await store.db.commit()
            results = [
                await run(way, server.url, store, args.open, args.messages) for way in ("per-member", "notify_many")
            ]
        finally:
            await store.close()
    print(f"# {args.members} members, {args.open} pages open on the peer, {args.messages} messages;"
          f" Python {platform.python_version()}, {platform.machine()}")  # fmt: skip
    print("| way | outbox entries per message | PUBLISH run (all messages) | deepest outbox |"
          " messages in a row to fill it | notices dropped (outbox full) | open pages' notices lost |"
          " ms until every page heard all |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        done = "never" if r["ms_to_every_page"] is None else f"{r['ms_to_every_page']:.0f}"
        print(f"| {r['way']} | {r['entries_per_message']} | {r['publishes']} | {r['deepest_outbox']} |"
              f" {r['messages_to_fill_outbox']} | {r['dropped']} | {r['lost']} | {done} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
