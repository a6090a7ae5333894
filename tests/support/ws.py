"""A Quart test WebSocket that also reports how the server closed it (code and reason).

Quart's own test connection drops the close code; our refusals (1008) and
slow-consumer closes (1013) are contracts, so the tests must see them.
"""

from __future__ import annotations

import asyncio
import re

from quart.testing.connections import TestWebsocketConnection

# Frames that only say who is here or typing (issue 8): they come whenever anyone joins, leaves or
# types, so ``receive_within`` passes over them; ``receive_any_within`` and the presence tests see them.
# Each partial's body may not run past its own end tag, so a frame that also carries anything else
# (a row, an error, the status) never counts as "state only".
ROOM_STATE_ONLY = re.compile(
    r'(?:<hx-partial hx-target="#(?:presence|typing)"[^>]*>(?:(?!</hx-partial>).)*</hx-partial>)+', re.S
)


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class RecordingWebsocket(TestWebsocketConnection):
    close_code: int | None = None

    async def _asgi_send(self, message) -> None:  # type: ignore[override]
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            await self._receive_queue.put(Closed(self.close_code, message.get("reason") or ""))
        await super()._asgi_send(message)

    async def receive_any_within(self, timeout: float = 5.0) -> str:
        data = await asyncio.wait_for(self.receive(), timeout)
        return data if isinstance(data, str) else data.decode()

    async def receive_within(self, timeout: float = 5.0) -> str:
        """The next frame about the room's messages (presence/typing-only frames are passed over)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive_any_within(timeout)
                if not ROOM_STATE_ONLY.fullmatch(frame):
                    return frame

    async def closed_with(self, timeout: float = 5.0) -> Closed:
        """Read until the server closes; return the close (fails if it does not close in time)."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    await self.receive()
                except Closed as closed:
                    return closed
