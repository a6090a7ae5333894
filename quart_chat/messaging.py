"""Accepting a message: store it, render it once, then broadcast it.

Nothing is broadcast before the store has it, so what others see is always
what was stored; a store failure raises and nothing is sent on.

A send may carry the composer's one-time ``client_id``: the same frame re-sent (htmx after a
reconnect, a browser re-posting a form) then lands once and is broadcast once.
"""

from __future__ import annotations

import hashlib
import logging
import time

from quart_chat.hub import Broadcast
from quart_chat.models import Identity, Message
from quart_chat.services import Services

log = logging.getLogger(__name__)


def message_id_for(author_uid: str, room: str, client_id: str) -> str:
    """The store's idempotency key for a composer's one-time id, scoped to its author and room.

    Scoped by hashing rather than by checking the author on a hit: another user who replays
    someone's ``client_id`` gets a different key, so their send is simply their own new
    message and can neither alter nor claim (nor learn anything about) the first one.
    """
    scoped = "\0".join((author_uid, room, client_id)).encode("utf-8")
    return hashlib.sha256(scoped).hexdigest()[:32]


async def send_message(
    services: Services, room: str, author: Identity, text: str, *, client_id: str | None = None
) -> Message:
    message_id = message_id_for(author.uid, room, client_id) if client_id is not None else None
    message = await services.store.add(room, author.uid, author.display_name, text, message_id=message_id)
    if message.replayed:  # stored (and broadcast) by the first send already
        return message
    html = services.renderer.row(message)
    try:
        await services.hub.publish(Broadcast(room, message.id, message.cursor, html, time.time()))
    except Exception:  # stored already: sockets catch up on resync or reconnect
        log.exception("publish failed for stored message id=%s room=%s", message.id, room)
    return message
