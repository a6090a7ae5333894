"""The live sockets open in this process: one registry for shutdown, log-out and the gauge.

The hub knows subscriptions (who hears a room); this knows sockets (whom to close). Shutdown
closes them all with 1012 and waits, log-out closes one session's tabs with 1008 (or every tab
of the person, when the provider's sign-out ended all their sessions), and ``len()`` is the
open-connections gauge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Protocol


class LiveSocket(Protocol):
    """What the registry needs of a connection."""

    @property
    def token(self) -> str:
        """The session token it was opened with."""
        ...

    @property
    def uid(self) -> str:
        """Whose it is."""
        ...

    def close_for(self, code: int, reason: str) -> None:
        """Ask the socket to close (it sends its last fragment and the code itself)."""
        ...


class Connections:
    def __init__(self) -> None:
        self._open: set[LiveSocket] = set()
        self._empty = asyncio.Event()
        self._empty.set()

    def add(self, socket: LiveSocket) -> None:
        self._open.add(socket)
        self._empty.clear()

    def discard(self, socket: LiveSocket) -> None:
        self._open.discard(socket)
        if not self._open:
            self._empty.set()

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[LiveSocket]:
        return iter(tuple(self._open))

    def of_session(self, token: str) -> list[LiveSocket]:
        """This session's open tabs, here."""
        return [s for s in self._open if s.token == token]

    def close_session(self, token: str, code: int, reason: str) -> None:
        for socket in self.of_session(token):
            socket.close_for(code, reason)

    def close_person(self, uid: str, code: int, reason: str) -> None:
        """Every tab of this person, here, whatever its session (a sign-out that ended them all)."""
        for socket in tuple(self._open):
            if socket.uid == uid:
                socket.close_for(code, reason)

    def close_all(self, code: int, reason: str) -> None:
        for socket in tuple(self._open):
            socket.close_for(code, reason)

    async def wait_empty(self, timeout: float) -> bool:
        """Wait until every socket has gone, at most ``timeout`` seconds; False if some remain."""
        try:
            async with asyncio.timeout(timeout):
                await self._empty.wait()
        except TimeoutError:
            return False
        return True
