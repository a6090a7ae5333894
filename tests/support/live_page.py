"""A browser tab on a real server, as far as the message list goes: rows upserted by id, sorted by cursor.

htmx's hx-upsert keeps one row per id and sorts by ``data-key`` (the store cursor); :class:`Page` does
the same, and also counts how often each row arrived, so a test can tell "the page is right" from
"the server sent nothing twice". :class:`Tab` reads its socket in the background and, like a browser,
can reconnect after a lost connection with the cursor the page was rendered with.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.support.http_user import RemoteUser, say

ZERO = "00000000000000000-0"
KEYED_ROW = re.compile(
    r'<li class="msg[^"]*" id="m-([^"]+)" data-key="([^"]+)"[^>]*>.*?<span class="text">(.*?)</span></li>', re.S
)
RESET = 'hx-target="#messages" hx-swap="innerHTML"'
PRESENCE = re.compile(r'<hx-partial hx-target="#presence"[^>]*>(.*?)</hx-partial>', re.S)


@dataclass
class Page:
    """The message list of one tab, and who it was last told is here."""

    rows: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (cursor, text)
    arrivals: Counter[str] = field(default_factory=Counter)
    resets: int = 0
    presence: str = ""  # the latest "Here now" the server sent

    def feed(self, frame: str) -> None:
        if RESET in frame:
            self.resets += 1
            self.rows.clear()
        for mid, key, text in KEYED_ROW.findall(frame):
            self.rows[mid] = (key, text)
            self.arrivals[mid] += 1
        for here in PRESENCE.findall(frame):
            self.presence = here

    def ids(self) -> list[str]:
        """Row ids in the order the page shows them (by cursor, as hx-upsert sorts)."""
        return [mid for mid, _ in sorted(self.rows.items(), key=lambda item: item[1][0])]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in self.arrivals.items() if n > 1}


class Tab:
    """One user's open room: a socket read into a :class:`Page`; reconnects to ``fallback`` when lost."""

    def __init__(self, user: RemoteUser, room: str = "general", after: str = ZERO) -> None:
        self.user = user
        self.room = room
        self.after = after  # the cursor in the page's hx-ws URL: reused on every reconnect
        self.page = Page()
        self.ws: ClientConnection | None = None
        self.fallback: str | None = None
        self.reconnects = 0
        self.close_codes: list[int | None] = []
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self, base: str | None = None) -> Tab:
        self.ws = await self.user.socket(self.room, after=self.after, base=base)
        self.page.feed(str(await asyncio.wait_for(self.ws.recv(), 10)))  # catch-up and status
        self.connected.set()
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            assert self.ws is not None
            try:
                async for frame in self.ws:
                    self.page.feed(str(frame))
            except ConnectionClosed:
                pass
            self.connected.clear()
            self.close_codes.append(self.ws.close_code)
            if self.fallback is None:
                return
            async with asyncio.timeout(10):  # the browser retries; the survivor must take it
                while True:
                    try:
                        self.ws = await self.user.socket(self.room, after=self.after, base=self.fallback)
                        break
                    except OSError:
                        await asyncio.sleep(0.1)
            self.reconnects += 1
            self.connected.set()

    async def say(self, text: str) -> bool:
        """Send a message; False if the connection was down (nothing was acknowledged)."""
        if not self.connected.is_set() or self.ws is None:
            return False
        try:
            await say(self.ws, text)
        except ConnectionClosed:
            return False
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.ws is not None:
            await self.ws.close()


async def store_order(user: RemoteUser, room: str = "general", base: str | None = None) -> list[str]:
    """The store's order of the room's rows: what a fresh tab with no history is sent, in that order."""
    async with user.socket(room, after=ZERO, base=base) as ws:
        frame = str(await asyncio.wait_for(ws.recv(), 10))
    page = Page()
    page.feed(frame)
    assert page.resets == 0, "more rows than CHAT_CATCHUP_LIMIT: raise it for this test"
    sent = [mid for mid, _, _ in KEYED_ROW.findall(frame)]
    assert page.ids() == sent, "the cursors do not sort like the store's order"
    return sent


async def until_stored(user: RemoteUser, count: int, base: str | None = None, timeout: float = 10.0) -> list[str]:
    """The store's order once it holds ``count`` rows (frames just sent may still be on their way)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(order := await store_order(user, base=base)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(order)} rows stored, expected {count}"
        await asyncio.sleep(0.05)
    assert len(order) == count, f"{len(order)} rows stored, expected {count}"
    return order


async def until_pages_hold(tabs: list[Tab], expected: list[str], timeout: float = 15.0) -> None:
    """Wait (bounded) until every tab shows exactly ``expected``; fail with what each one holds."""
    try:
        async with asyncio.timeout(timeout):
            while any(tab.page.ids() != expected for tab in tabs):
                await asyncio.sleep(0.05)
    except TimeoutError:
        report = []
        for tab in tabs:
            ids = tab.page.ids()
            missing = [m for m in expected if m not in tab.page.rows]
            extra = [m for m in ids if m not in set(expected)]
            report.append(f"{tab.user.email}: {len(ids)} rows, missing {missing[:10]}, extra {extra[:10]}")
        raise AssertionError(f"pages differ from the store's {len(expected)} rows:\n" + "\n".join(report)) from None
