"""The WebSocket close codes this app sends: one place, one name each.

What matters is how htmx 4's hx-ws treats each one: it reconnects (with back-off) after
anything but a normal close and 1008, so a refusal must be 1008 or the browser would knock
forever, and anything the browser should retry must not be.
"""

from __future__ import annotations

from enum import IntEnum


class Close(IntEnum):
    POLICY_VIOLATION = 1008  # refused or signed out (no session, foreign Origin, no such room): htmx stops
    INTERNAL_ERROR = 1011  # the store could not be read for catch-up: htmx retries
    SERVICE_RESTART = 1012  # shutdown: htmx retries, landing on another instance
    TRY_AGAIN_LATER = 1013  # slow consumer, or sign-in cannot be checked now: htmx retries with back-off
