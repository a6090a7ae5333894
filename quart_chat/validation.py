"""Pure checks on what browsers send: room names and WebSocket frames. No I/O here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

ROOM_NAME = re.compile(r"[a-z0-9-]{1,32}")


def is_room_name(name: str) -> bool:
    return ROOM_NAME.fullmatch(name) is not None


class FrameError(ValueError):
    """A frame we refuse; ``message`` goes back to the sender alone."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class ChatFrame:
    text: str  # stripped; may be empty (an empty send is ignored, not an error)


def parse_frame(raw: str | bytes, max_chars: int) -> ChatFrame:
    """Parse an hx-ws:send frame: htmx 4 ``{"message": .., "headers": {..}}`` or htmx 2 ``HEADERS``."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("That message could not be read (not UTF-8).") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("That message could not be read (not JSON).") from None
    if not isinstance(data, dict):
        raise FrameError("That message could not be read (not a form).")
    text = data.get("message", "")
    if isinstance(text, list):  # a repeated field; never sent by our form
        raise FrameError("That message could not be read (more than one message field).")
    if not isinstance(text, str):
        raise FrameError("That message could not be read (the message is not text).")
    return ChatFrame(clean_text(text, max_chars))


def clean_text(text: str, max_chars: int) -> str:
    """The one rule for message text, whatever carried it (WebSocket frame or plain form POST)."""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > max_chars:
        raise FrameError(f"Message too long: {len(text)} characters, the limit is {max_chars}.")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise FrameError("That message contains control characters.")
    return text
