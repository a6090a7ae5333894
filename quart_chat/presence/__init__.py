"""Who is in a room now: a tracker protocol with a memory and a Redis implementation.

A person counts once however many tabs (or instances) they have open: trackers count sockets
per (room, uid) and report people (uids). ``join``/``leave`` say whether the room's set of
people changed, so the caller signals the room only then. The Redis tracker keeps this
instance's entries alive on a timer (:meth:`PresenceTracker.refresh`); a crashed instance's
entries expire by themselves within :data:`CRASH_BOUND` seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

PRESENCE_TTL = 20.0  # seconds an instance's presence entry lives in Redis without a refresh
PRESENCE_REFRESH = 5.0  # seconds between refreshes (and re-renders of each local room's list)
CRASH_BOUND = PRESENCE_TTL + PRESENCE_REFRESH  # a crashed instance's people are gone from every page by then


class PresenceTracker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def join(self, room: str, uid: str) -> bool:
        """One more socket of ``uid`` in ``room`` here; True if the room's set of people changed."""
        ...

    async def leave(self, room: str, uid: str) -> bool:
        """One socket fewer; True if the room's set of people changed."""
        ...

    async def people(self, room: str) -> set[str]:
        """The uids in ``room`` now, on every instance."""
        ...

    async def counts(self, rooms: list[str]) -> dict[str, int]:
        """How many people are in each of ``rooms`` now (the directory's "here now"), in one go."""
        ...

    async def refresh(self) -> None:
        """Keep this instance's entries alive and drop expired ones (no-op in memory)."""
        ...

    def local_rooms(self) -> list[str]:
        """Rooms with sockets in this instance."""
        ...


class SocketCounts:
    """This instance's sockets per (room, uid): a person joins with their first socket and leaves
    with their last. Both trackers count this way; the Redis one also writes what changes."""

    def __init__(self) -> None:
        self._rooms: dict[str, Counter[str]] = {}

    def add(self, room: str, uid: str) -> bool:
        """One more socket of ``uid`` in ``room``; True if it is their first here."""
        counts = self._rooms.setdefault(room, Counter())
        counts[uid] += 1
        return counts[uid] == 1

    def remove(self, room: str, uid: str) -> bool:
        """One socket fewer; True if it was their last here (False for a socket never added)."""
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

    def people(self, room: str) -> set[str]:
        """The uids with a socket in ``room`` here."""
        return set(self._rooms.get(room, ()))

    def rooms(self) -> list[str]:
        """The rooms with a socket here."""
        return list(self._rooms)
