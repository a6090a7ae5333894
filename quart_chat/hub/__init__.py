"""Who hears it: the hub protocol that fans stored, rendered rows out to sockets.

Two implementations: ``memory`` (one process) and ``redis`` (pub/sub across
instances). Both deliver into the same bounded per-connection
:class:`~quart_chat.hub.fanout.Subscription` queues.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from quart_chat.hub.fanout import Subscription


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A stored message, rendered once, on its way to every socket in the room."""

    room: str
    message_id: str
    cursor: str
    html: str
    stored_at: float = 0.0  # time.time() when stored: for the send-to-deliver histogram


class Hub(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, broadcast: Broadcast) -> None:
        """Hand a row to every subscriber of its room; never blocks on a slow one."""
        ...

    def subscribe(self, room: str) -> AbstractAsyncContextManager[Subscription]:
        """A bounded queue of this room's broadcasts for one connection."""
        ...

    @property
    def healthy(self) -> bool:
        """False while broadcasts may be missed (e.g. Redis is unreachable)."""
        ...
