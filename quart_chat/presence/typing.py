"""Who is typing in each room, as state with expiry: pure, clock given by the caller.

Each instance keeps its own copy, fed by the hub's typing signals; nothing is stored. An entry
lives :data:`TYPING_TIMEOUT` seconds after the last notice (the composer sends one every couple
of seconds while keys are pressed), or until its typist sends or leaves.
"""

from __future__ import annotations

TYPING_TIMEOUT = 5.0  # seconds "Ada is typing…" stays after the last notice


class Typists:
    def __init__(self, timeout: float = TYPING_TIMEOUT) -> None:
        self.timeout = timeout
        self._rooms: dict[str, dict[str, float]] = {}  # room -> uid -> expiry, in order of starting

    def typing(self, room: str, uid: str, now: float) -> bool:
        """A notice from ``uid``; True if they were not shown as typing before."""
        typists = self._rooms.setdefault(room, {})
        new = uid not in typists
        typists[uid] = now + self.timeout
        return new

    def stopped(self, room: str, uid: str) -> bool:
        """``uid`` sent or left; True if they were shown as typing."""
        typists = self._rooms.get(room)
        if typists is None or uid not in typists:
            return False
        del typists[uid]
        if not typists:
            del self._rooms[room]
        return True

    def expire(self, now: float) -> list[str]:
        """Drop entries past their expiry; the rooms whose typists changed."""
        changed = []
        for room, typists in list(self._rooms.items()):
            gone = [uid for uid, until in typists.items() if until <= now]
            for uid in gone:
                del typists[uid]
            if gone:
                changed.append(room)
            if not typists:
                del self._rooms[room]
        return changed

    def in_room(self, room: str) -> list[str]:
        return list(self._rooms.get(room, ()))

    def is_typing(self, room: str, uid: str) -> bool:
        return uid in self._rooms.get(room, ())

    def next_expiry(self) -> float | None:
        return min((t for typists in self._rooms.values() for t in typists.values()), default=None)
