"""Presence in one process: socket counts per (room, uid)."""

from __future__ import annotations

from collections import Counter


class MemoryPresence:
    def __init__(self) -> None:
        self._rooms: dict[str, Counter[str]] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def join(self, room: str, uid: str) -> bool:
        counts = self._rooms.setdefault(room, Counter())
        counts[uid] += 1
        return counts[uid] == 1

    async def leave(self, room: str, uid: str) -> bool:
        counts = self._rooms.get(room)
        if counts is None or counts[uid] <= 0:
            return False
        counts[uid] -= 1
        if counts[uid]:
            return False
        del counts[uid]
        if not counts:
            del self._rooms[room]
        return True

    async def people(self, room: str) -> set[str]:
        return set(self._rooms.get(room, ()))

    async def refresh(self) -> None:
        return None

    def local_rooms(self) -> list[str]:
        return list(self._rooms)
