"""Who hears it: the hub protocol that fans stored, rendered rows out to sockets.

Two implementations: ``memory`` (one process) and ``redis`` (pub/sub across
instances). Both deliver into the same bounded per-connection
:class:`~quart_chat.hub.fanout.Subscription` queues.
"""

from __future__ import annotations

from collections.abc import Callable
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


# A small room-scoped event (presence changed, someone is typing): strings only, never stored.
SignalHandler = Callable[[str, dict[str, str]], None]


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

    async def signal(self, room: str, data: dict[str, str]) -> None:
        """Tell every instance serving ``room`` (this one at once, the others through the bus) a small event.

        Another instance hears it while it has sockets in the room: those are the ones that render.

        Fire-and-forget: a signal lost while the bus is down is not replayed (presence heals on
        its refresh timer, typing expires by itself).
        """
        ...

    def on_signal(self, handler: SignalHandler) -> None:
        """Call ``handler(room, data)`` in this instance for every signal, its own included."""
        ...

    def offer_room(self, room: str, html: str) -> None:
        """Offer a direct fragment to this instance's subscribers of ``room`` (never waits)."""
        ...
