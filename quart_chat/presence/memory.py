"""Presence in one process: socket counts per (room, uid)."""

from __future__ import annotations

from quart_chat.presence import SocketCounts


class MemoryPresence:
    def __init__(self) -> None:
        self._sockets = SocketCounts()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def join(self, room: str, uid: str) -> bool:
        return self._sockets.add(room, uid)

    async def leave(self, room: str, uid: str) -> bool:
        return self._sockets.remove(room, uid)

    async def people(self, room: str) -> set[str]:
        return self._sockets.people(room)

    async def counts(self, rooms: list[str]) -> dict[str, int]:
        return {room: len(self._sockets.people(room)) for room in rooms}

    async def refresh(self) -> None:
        return None

    def local_rooms(self) -> list[str]:
        return self._sockets.rooms()
