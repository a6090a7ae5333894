"""The live socket's reader, without I/O: what each frame from the browser costs and what it gets.

The reading half of the socket, as :mod:`quart_chat.live_protocol` is the writing half: no asyncio,
no Quart, no clock of its own. The shell (``LiveConnection._read`` in ``web/live.py``) receives a
frame, asks :meth:`FrameReader.received` what to do, and does it::

    action = reader.received(raw, now)   # Drop | Answer | Hangup | Post | Notice
    Post   -> send it (the per-person limit first; too fast: reader.too_fast(wait) is the answer),
              then reader.sent(client_id)
    Notice -> presence.typing / stopped;  Answer -> offer its fragment;  Hangup -> close the socket

What a frame costs is bounded before any work is done on it:

- **Every frame** (message, typing notice, empty, invalid) spends one of the socket's frame budget
  (``CHAT_FRAMES_PER_MINUTE``, a tenth of it at once) *before* it is parsed. Our composer sends at
  most a message per keypress of Enter and a typing notice per 2 s, far under it; a socket past
  it is closed 1008 "too many frames".
- **A refused message** (too long, control characters, too fast, not saved) is answered with the
  composer again, the refused text in it and the reason beside it (``role="alert"``): a refusal never
  loses what was typed. Frames that are not a message at all get the reason alone.
- **A bad frame** is answered once: the first after a good one gets its error under the composer,
  the rest get nothing, and :data:`BAD_FRAMES` of them within a minute close the socket 1008 "too
  many bad frames". A reply costs a render and a send; a flood of them must not cost one each.
- Typing notices have their own rate (the message rate: a script that floods them is dropped
  quietly; they are never stored).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from quart_chat.close_codes import Close
from quart_chat.limits import Rate, gcra, seconds
from quart_chat.live_protocol import Closing
from quart_chat.rendering import Renderer
from quart_chat.validation import FrameError, parse_frame

KEPT = "Your message is kept."  # said when a refused text comes back in the composer
BAD_FRAMES = Rate(count=10, period=60.0, burst=10)  # bad frames a socket may send before it is closed


@dataclass(frozen=True, slots=True)
class Drop:
    """Nothing to do: an empty send, a stale or throttled notice, a bad frame already answered."""

    reason: str | None = None  # the refusal's metrics label, if it is one


@dataclass(frozen=True, slots=True)
class Answer:
    """An error for the sender alone, under their composer."""

    fragment: str
    reason: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the socket: its last fragment, then the code (1008: htmx does not retry)."""

    closing: Closing
    reason: str


@dataclass(frozen=True, slots=True)
class Post:
    """A message to send (after the per-person message limit)."""

    text: str
    client_id: str | None
    reason: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A typing notice: ``validation.TYPING`` or ``STOPPED``."""

    kind: str
    reason: ClassVar[None] = None


Action = Drop | Answer | Hangup | Post | Notice


class FrameReader:
    """One socket's frames in, as state: its frame budget, bad frames, typing notices, the last send."""

    def __init__(
        self,
        *,
        renderer: Renderer,
        max_chars: int,
        max_bytes: int,
        frames_per_minute: int,
        notice_rate: Rate,
        now: float,
        composer: Callable[[str, str], str] | None = None,
    ) -> None:
        """``composer(text, error)``: this socket's composer with a refused ``text`` kept and the
        ``error`` beside it (without one, the error alone replaces the composer's notice)."""
        self.renderer = renderer
        self.composer = composer
        self.max_chars = max_chars
        self.max_bytes = max_bytes
        self.frame_rate = Rate(frames_per_minute, 60.0, max(10, frames_per_minute // 10))
        self.notice_rate = notice_rate
        self._frames: float | None = None  # each budget's GCRA state (theoretical arrival time)
        self._bad: float | None = None
        self._notices: float | None = None
        self._answered = False  # a bad frame was answered since the last good one
        self._used_client_id: str | None = None  # the composer last sent: a late notice from it is stale

    def received(self, raw: str | bytes, now: float) -> Action:
        wait, self._frames = self._spend(self._frames, now, self.frame_rate)
        if wait:
            return self._hang_up("too many frames", "frame_budget")
        try:
            frame = parse_frame(raw, self.max_chars, self.max_bytes)
        except FrameError as exc:
            return self._bad_frame(exc.message, now, exc.text)
        self._answered = False
        if frame.notice is not None:
            if frame.client_id is not None and frame.client_id == self._used_client_id:
                return Drop()  # throttled before the send, arrived after it
            wait, self._notices = self._spend(self._notices, now, self.notice_rate)
            return Drop("typing_rate_limited") if wait else Notice(frame.notice)
        if not frame.text:
            return Drop()
        return Post(frame.text, frame.client_id)

    def too_fast(self, wait: float, text: str = "") -> Answer:
        """The per-person message limit refused a :class:`Post` (its ``text`` stays in the composer)."""
        error = f"Not sent: You are sending too fast. Try again in {seconds(wait)} s; your message is kept."
        return Answer(self.refusal(error, text), "rate_limited")

    def refusal(self, error: str, text: str = "") -> str:
        """The answer to a refused message: the composer with ``text`` kept, or the error alone."""
        if text and self.composer is not None:
            return self.composer(text, error)
        return self.renderer.composer_error(error)

    def sent(self, client_id: str | None) -> None:
        """A :class:`Post` was stored: notices from its composer that arrive late are stale."""
        self._used_client_id = client_id

    # -- bookkeeping -----------------------------------------------------------------------

    @staticmethod
    def _spend(tat: float | None, now: float, rate: Rate) -> tuple[float, float | None]:
        wait, new_tat = gcra(tat, now, rate)
        return wait, (tat if wait else new_tat)

    def _bad_frame(self, message: str, now: float, text: str = "") -> Action:
        wait, self._bad = self._spend(self._bad, now, BAD_FRAMES)
        if wait:
            return self._hang_up("too many bad frames", "bad_frames")
        if self._answered:
            return Drop("invalid")
        self._answered = True
        return Answer(self.refusal(f"{message} {KEPT}" if text else message, text), "invalid")

    def _hang_up(self, reason: str, label: str) -> Hangup:
        text = "Disconnected: this page sent too many frames. Reload it to reconnect."
        return Hangup(Closing(Close.POLICY_VIOLATION, reason, self.renderer.status("closed", text)), label)
