"""URL converters: a room name in a URL is checked by routing, so no view repeats the check."""

from __future__ import annotations

from quart import Quart
from werkzeug.routing import BaseConverter

from quart_chat.validation import ROOM_NAME


class RoomName(BaseConverter):
    """``<room:room>``: 1 to 32 of a-z, 0-9 and '-'; any other name is a 404 before a view runs."""

    regex = ROOM_NAME.pattern


def install(app: Quart) -> None:
    app.url_map.converters["room"] = RoomName
