"""The Redis hub's wire format: one channel per room, one small JSON object per message.

Other instances get ``{"i", "room", "id", "cursor", "html"}`` for a row, or
``{"i", "room", "resync": 1, "since"}`` for "I could not publish this room from ``since`` on",
or ``{"i", "room", "signal": {str: str}}`` for a small room event (presence, typing), and skip
their own echo by the instance id ``i``. ``stored_at`` does not travel: the
send-to-deliver histogram measures the sender's own sockets only. A payload that does not
parse, names another room than its channel, or carries a non-string where a string belongs
is :class:`Malformed` and is dropped, never delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import Resync

CHANNEL_PREFIX = "quart-chat:room:"


class Malformed(ValueError):
    """A pub/sub payload this hub did not write and will not deliver."""


@dataclass(frozen=True, slots=True)
class Signal:
    """A room event from another instance, for the hub's signal handlers (never a socket's queue)."""

    room: str
    data: dict[str, str]


def channel_for(room: str) -> str:
    return CHANNEL_PREFIX + room


def room_of(channel: bytes) -> str:
    return channel.decode()[len(CHANNEL_PREFIX) :]


def encode_row(origin: str, broadcast: Broadcast) -> bytes:
    return _dumps(
        {
            "i": origin,
            "room": broadcast.room,
            "id": broadcast.message_id,
            "cursor": broadcast.cursor,
            "html": broadcast.html,
        }
    )


def encode_resync(origin: str, room: str, since: str) -> bytes:
    """The notice that ``origin`` could not publish ``room``'s rows from ``since`` on."""
    return _dumps({"i": origin, "room": room, "resync": 1, "since": since})


def encode_signal(origin: str, room: str, data: dict[str, str]) -> bytes:
    return _dumps({"i": origin, "room": room, "signal": data})


def decode(room: str, data: bytes, own: str) -> Broadcast | Resync | Signal | None:
    """What a message on ``room``'s channel asks for; None for ``own`` echo (already delivered locally)."""
    try:
        msg = json.loads(data)
        if msg["room"] != room:
            raise ValueError("room does not match the channel")
        if msg["i"] == own:
            return None
        if "signal" in msg:
            signal = msg["signal"]
            if not isinstance(signal, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in signal.items()
            ):
                raise TypeError("a signal is an object of strings")
            return Signal(room, signal)
        if msg.get("resync"):
            since = msg.get("since")
            if since is not None and not isinstance(since, str):
                raise TypeError("since must be a string")
            return Resync(since)
        broadcast = Broadcast(room, msg["id"], msg["cursor"], msg["html"])
        if not all(isinstance(v, str) for v in (broadcast.message_id, broadcast.cursor, broadcast.html)):
            raise TypeError("id, cursor and html must be strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise Malformed(str(exc)) from exc
    return broadcast


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
