"""Pure checks on what browsers send: room names and WebSocket frames. No I/O here."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from quart_chat import visible_text

ROOM_NAME = re.compile(r"[a-z0-9-]{1,32}")
# The composer's one-time id (``rendering.new_client_id``: 16 random bytes, URL-safe base64).
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def is_room_name(name: str) -> bool:
    return ROOM_NAME.fullmatch(name) is not None


class FrameError(ValueError):
    """A frame we refuse; ``message`` goes back to the sender alone. ``text``: the refused draft as
    sent, when there was one to give back (the composer is re-rendered with it: nothing typed is lost)."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.text = text


@dataclass(frozen=True, slots=True)
class ChatFrame:
    text: str  # stripped; may be empty (an empty send is ignored, not an error)
    client_id: str | None = None  # the composer's one-time id; None from a client that sends none
    # A typing notice from the composer's field, never stored or broadcast as a row: TYPING, or
    # STOPPED when the draft is empty again; None for a message.
    notice: str | None = None


TYPING, STOPPED = "typing", "stopped"


def parse_frame(raw: str | bytes | None, max_chars: int, max_bytes: int | None = None) -> ChatFrame:
    """Parse an hx-ws:send frame: htmx 4 ``{"message": .., "headers": {..}}`` or htmx 2 ``HEADERS``.

    Any frame at all is answered with a ChatFrame or a FrameError, never another exception: ``None``
    is what Quart's ``websocket.receive()`` returns for an empty binary frame.
    """
    if raw is None:
        raw = b""
    if max_bytes is not None and len(raw.encode() if isinstance(raw, str) else raw) > max_bytes:
        raise FrameError(f"Message too long: the limit is {max_chars} characters.")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("That message could not be read (not UTF-8).") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("That message could not be read (not JSON).") from None
    except RecursionError:  # "[[[[..." thousands deep: our form sends one flat object
        raise FrameError("That message could not be read (nested too deeply).") from None
    if not isinstance(data, dict):
        raise FrameError("That message could not be read (not a form).")
    if data.get("typing"):
        # The field sends the whole form; the draft is not read (an empty one means "stopped").
        draft = data.get("message")
        notice = TYPING if isinstance(draft, str) and draft.strip() else STOPPED
        return ChatFrame("", clean_client_id(data.get("client_id")), notice)
    text = data.get("message", "")
    if isinstance(text, list):  # a repeated field; never sent by our form
        raise FrameError("That message could not be read (more than one message field).")
    if not isinstance(text, str):
        raise FrameError("That message could not be read (the message is not text).")
    try:
        cleaned = clean_text(text, max_chars)
    except FrameError as exc:
        # Given back as sent (at most max_bytes); a lone surrogate cannot be sent back at all.
        raise FrameError(exc.message, "" if visible_text.has_surrogate(text) else text) from None
    return ChatFrame(cleaned, clean_client_id(data.get("client_id")))


def clean_client_id(value: object) -> str | None:
    """The composer's one-time id, if it sent one; anything not shaped like one is refused."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or CLIENT_ID.fullmatch(value) is None:
        raise FrameError("That message could not be read (a bad form id). Reload the page.")
    return value


NOT_TEXT = "That message could not be read (it is not valid Unicode text)."
CONTROL = "That message contains control characters."
BIDI = (
    "That message contains text-direction controls (U+202A to U+202E or U+2066 to U+2069), "
    "which can make it show something other than what it says."
)
INVISIBLE = "That message has no visible text: only spaces, fillers or zero-width characters."


def clean_text(text: str, max_chars: int) -> str:
    """The one rule for message text, whatever carried it (WebSocket frame or plain form POST).

    Stripped and in NFC (one spelling of each accented letter, so equal text is stored equal), at
    most ``max_chars`` characters. Refused: lone surrogates, control characters but newline and
    tab, bidi overrides/embeddings/isolates, and text that draws nothing. Text that merely contains
    a zero-width joiner or a variation selector (``👩‍💻``, ``❤️``) is ordinary text and stays.
    An empty result is not an error: an empty send is ignored.
    """
    if visible_text.has_surrogate(text):
        raise FrameError(NOT_TEXT)
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    if len(text) > max_chars:
        raise FrameError(f"Message too long: {len(text)} characters, the limit is {max_chars}.")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise FrameError(CONTROL)
    if visible_text.has_bidi_control(text):
        raise FrameError(BIDI)
    if text and not visible_text.has_visible(text):
        raise FrameError(INVISIBLE)
    return text
