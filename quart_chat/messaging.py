"""Accepting a message: store it, render it once, then broadcast it.

Nothing is broadcast before the store has it, so what others see is always
what was stored; a store failure raises and nothing is sent on.
"""

from __future__ import annotations

import logging
import time

from quart_chat.hub import Broadcast
from quart_chat.models import Identity, Message
from quart_chat.rendering import render_row
from quart_chat.services import Services

log = logging.getLogger(__name__)


async def send_message(
    services: Services, room: str, author: Identity, text: str, *, message_id: str | None = None
) -> Message:
    message = await services.store.add(room, author.uid, author.display_name, text, message_id=message_id)
    html = await render_row(message)
    try:
        await services.hub.publish(Broadcast(room, message.id, message.cursor, html, time.time()))
    except Exception:  # stored already: sockets catch up on resync or reconnect
        log.exception("publish failed for stored message id=%s room=%s", message.id, room)
    return message
