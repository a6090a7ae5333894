"""Who hears it: the hub protocol that fans stored, rendered rows out to sockets.

Two implementations: ``memory`` (one process) and ``redis`` (pub/sub across
instances). Both deliver into the same bounded per-connection
:class:`~quart_chat.hub.fanout.Subscription` queues.

Two kinds of channel: one per room (its rows, and signals for whoever serves it) and one per
person (small notices for their sidebars and their sessions, wherever their sockets are). A notice
for many people at once (a message's ``unread`` to every member of its room) travels as a list of
people on one shared channel instead (``notify_many``): O(1) publishes per message, not one per member.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from quart_chat.hub.fanout import Subscription
from quart_chat.rows import Row


class RowRenderer(Protocol):
    def row(self, row: Row, tz: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Broadcast:
    """A stored message on its way to every socket in the room, with what its row needs.

    Not HTML: each viewer sees times in their own zone. ``html_for`` renders the row once per
    zone and keeps it, so a room of a hundred people in two zones renders it twice, not a
    hundred times. The cache lives as long as the broadcast (a few queues), so it stays small.
    """

    row: Row
    stored_at: float = 0.0  # time.time() when stored: for the send-to-deliver histogram
    _html: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def room(self) -> str:
        return self.row.message.room

    @property
    def message_id(self) -> str:
        return self.row.message.id

    @property
    def cursor(self) -> str:
        return self.row.message.cursor

    def html_for(self, tz: str, renderer: RowRenderer, path: str | None = None) -> str:
        """The row as a viewer in ``tz`` sees it, rendered at most once per zone (and place path:
        a conversation's two people see it under two paths, where its "Edit" link points)."""
        key = tz if path is None else f"{tz} {path}"
        html = self._html.get(key)
        if html is None:
            html = renderer.row(self.row, tz) if path is None else renderer.row(self.row, tz, path=path)
            self._html[key] = html
        return html


# A small room-scoped event (presence changed, someone is typing): strings only, never stored.
SignalHandler = Callable[[str, dict[str, str]], None]


class Hub(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, broadcast: Broadcast) -> None:
        """Hand a row to every subscriber of its room; never blocks on a slow one."""
        ...

    def subscribe(self, room: str, person: str | None = None) -> AbstractAsyncContextManager[Subscription]:
        """A bounded queue of this room's broadcasts for one connection, and of ``person``'s notices if given.

        Both are in force when it is entered (on every instance's bus), so what is read from the
        store after it cannot miss a row or a notice published meanwhile.
        """
        ...

    async def notify(self, person: str, data: dict[str, str]) -> None:
        """Offer a small notice to every socket of ``person`` on every instance (this one's at once).

        Fire-and-forget, like :meth:`signal`, but for one person wherever they are: nothing
        blocks on a slow socket, and a notice lost while the bus is down is not replayed (the
        reconnect's resync makes sidebars re-read the store). An instance hears a person's
        notices while it has a subscription following them.
        """
        ...

    async def notify_many(self, persons: Collection[str], data: dict[str, str]) -> None:
        """:meth:`notify` for many people with the same notice, at a cost that does not grow per person on the bus.

        Every instance hears the list (in frames of at most ``wire.NOTICE_CHUNK`` people) and offers
        the notice to the sockets it has of each; a room of 5,000 members costs five publishes, not
        5,000. The same fire-and-forget terms as :meth:`notify`, in order with it and with the rows.
        """
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
