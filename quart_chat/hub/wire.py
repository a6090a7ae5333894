"""The Redis hub's wire format: one channel per room and one per person, one small JSON object each.

Other instances get what a row needs, not its HTML (each viewer sees their own zone):
``{"i", "room", "id", "at", "uid", "stored_name", "text", "name", "handle", "colour", "cont", "prev",
"mentions", "changed", "deleted"}`` (``at``/``prev``: the row's and its predecessor's server time in
microseconds; ``mentions``: [handle, uid] pairs; ``changed``: an edit's or deletion's time in
microseconds or null, ``deleted`` a boolean; these three absent from an older instance), or
``{"i", "room", "resync": 1, "since"}`` for "I could not publish this room from ``since`` on",
or ``{"i", "room", "signal": {str: str}}`` for a small room event (presence, typing), and skip
their own echo by the instance id ``i``. A person's channel carries ``{"i", "person", "notice":
{str: str}}`` (see ``quart_chat.notices``), and the one shared notice channel carries ``{"i", "people":
[uid, ...], "notice": {str: str}}``, the same notice for each of at most :data:`NOTICE_CHUNK` people
(every instance hears it and delivers to the people it has sockets of). ``stored_at`` does not travel: the
send-to-deliver histogram measures the sender's own sockets only. A payload that does not
parse, names another room (or person) than its channel, or carries a non-string where a string
belongs is :class:`Malformed` and is dropped, never delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quart_chat.hub import Broadcast
from quart_chat.hub.fanout import Notice, Resync
from quart_chat.models import Message
from quart_chat.people import PALETTE
from quart_chat.rows import Author, Row

CHANNEL_PREFIX = "quart-chat:room:"
PERSON_PREFIX = "quart-chat:person:"
NOTICES_CHANNEL = "quart-chat:notices"  # notices for many people at once; every instance subscribes
NOTICE_CHUNK = 1000  # people per frame on it: a frame stays small (about 30 KiB of ids), however big the room


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


def person_channel(person: str) -> str:
    return PERSON_PREFIX + person


def person_of(channel: bytes) -> str | None:
    """The person a channel is for, or None for a room's channel."""
    name = channel.decode()
    return name[len(PERSON_PREFIX) :] if name.startswith(PERSON_PREFIX) else None


def _micros(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def _instant(micros: object) -> datetime:
    if not isinstance(micros, int) or isinstance(micros, bool) or micros < 0:
        raise TypeError("a time must be a non-negative integer of microseconds")
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


def encode_row(origin: str, broadcast: Broadcast) -> bytes:
    row, message = broadcast.row, broadcast.row.message
    return _dumps(
        {
            "i": origin,
            "room": broadcast.room,
            "id": message.id,
            "at": _micros(message.created_at),
            "uid": message.author_uid,
            "stored_name": message.author_name,
            "text": message.text,
            "name": row.author.name,
            "handle": row.author.handle,
            "colour": row.author.colour,
            "cont": row.continues,
            "prev": None if row.previous_at is None else _micros(row.previous_at),
            "mentions": [list(pair) for pair in message.mentions],
            "changed": None if message.changed_at is None else _micros(message.changed_at),
            "deleted": message.deleted,
        }
    )


def _mentions(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value
    ):
        raise TypeError("mentions must be a list of [handle, uid] string pairs")
    return tuple((handle, uid) for handle, uid in value)


def _row(room: str, msg: dict[str, Any]) -> Row:
    strings = [msg[k] for k in ("id", "uid", "stored_name", "text", "name", "handle", "colour")]
    if not all(isinstance(v, str) for v in strings):
        raise TypeError("id, uid, names, text, handle and colour must be strings")
    message_id, uid, stored_name, text, name, handle, colour = strings
    if not message_id or colour not in PALETTE:
        raise ValueError("an empty id or a colour outside the palette")
    if not isinstance(msg["cont"], bool):
        raise TypeError("cont must be a boolean")
    previous_at = None if msg["prev"] is None else _instant(msg["prev"])
    mentions = _mentions(msg.get("mentions", []))
    changed = msg.get("changed")  # absent from an older instance: an original row
    deleted = msg.get("deleted", False)
    if not isinstance(deleted, bool):
        raise TypeError("deleted must be a boolean")
    if deleted and (text or mentions or changed is None):
        raise ValueError("a deleted row keeps no text or mentions and says when it was deleted")
    changed_at = None if changed is None else _instant(changed)
    message = Message(message_id, room, uid, stored_name, text, _instant(msg["at"]), mentions, changed_at, deleted)
    return Row(message, Author(name, handle, colour), msg["cont"], previous_at)


def encode_resync(origin: str, room: str, since: str) -> bytes:
    """The notice that ``origin`` could not publish ``room``'s rows from ``since`` on."""
    return _dumps({"i": origin, "room": room, "resync": 1, "since": since})


def encode_signal(origin: str, room: str, data: dict[str, str]) -> bytes:
    return _dumps({"i": origin, "room": room, "signal": data})


def _strings(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TypeError(f"{what} is an object of strings")
    return value


def encode_notice(origin: str, person: str, data: dict[str, str]) -> bytes:
    return _dumps({"i": origin, "person": person, "notice": data})


def decode_notice(person: str, data: bytes, own: str) -> Notice | None:
    """The notice on ``person``'s channel; None for ``own`` echo (delivered locally already)."""
    try:
        msg = json.loads(data)
        if msg["person"] != person:
            raise ValueError("person does not match the channel")
        if msg["i"] == own:
            return None
        return Notice(person, _strings(msg["notice"], "a notice"))
    except (ValueError, KeyError, TypeError) as exc:
        raise Malformed(str(exc)) from exc


def encode_notices(origin: str, people: list[str], data: dict[str, str]) -> bytes:
    return _dumps({"i": origin, "people": people, "notice": data})


def decode_notices(data: bytes, own: str) -> tuple[list[str], dict[str, str]] | None:
    """The people and the notice of a frame on :data:`NOTICES_CHANNEL`; None for ``own`` echo."""
    try:
        msg = json.loads(data)
        people = msg["people"]
        if not isinstance(people, list) or len(people) > NOTICE_CHUNK or not all(isinstance(p, str) for p in people):
            raise TypeError(f"people is a list of at most {NOTICE_CHUNK} strings")
        notice = _strings(msg["notice"], "a notice")
        if msg["i"] == own:
            return None
        return people, notice
    except (ValueError, KeyError, TypeError) as exc:
        raise Malformed(str(exc)) from exc


def decode(room: str, data: bytes, own: str) -> Broadcast | Resync | Signal | None:
    """What a message on ``room``'s channel asks for; None for ``own`` echo (already delivered locally)."""
    try:
        msg = json.loads(data)
        if msg["room"] != room:
            raise ValueError("room does not match the channel")
        if msg["i"] == own:
            return None
        if "signal" in msg:
            return Signal(room, _strings(msg["signal"], "a signal"))
        if msg.get("resync"):
            since = msg.get("since")
            if since is not None and not isinstance(since, str):
                raise TypeError("since must be a string")
            return Resync(since)
        broadcast = Broadcast(_row(room, msg))
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        raise Malformed(str(exc)) from exc
    return broadcast


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
