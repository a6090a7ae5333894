"""Rooms the other instances did not hear from us, each from the earliest row they missed.

Pub/sub is fire-and-forget: what this instance could not publish (Redis down, the outbox
full, rows still queued when the link broke) is lost for the others. The hub does not
replay it; after the reconnect it announces each such room with its earliest lost cursor,
and the other instances resync that room's sockets from there. One entry per room, however
many rows were lost, so the bookkeeping stays small through a long outage.
"""

from __future__ import annotations


class MissedRooms:
    def __init__(self) -> None:
        self._since: dict[str, str] = {}  # room -> earliest cursor not published

    def add(self, room: str, cursor: str) -> None:
        """Remember that ``room``'s row at ``cursor`` did not reach the other instances."""
        known = self._since.get(room)
        self._since[room] = cursor if known is None else min(known, cursor)

    def take(self) -> list[tuple[str, str]]:
        """Every (room, since) to announce, in room order; forgets them (re-added if announcing fails)."""
        missed, self._since = self._since, {}
        return sorted(missed.items())

    def __len__(self) -> int:
        return len(self._since)
