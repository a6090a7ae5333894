"""The rules for how people are named and shown: pure functions, no I/O.

Display names are free text (1 to 64 characters, trimmed); handles are the unique,
URL-safe name (``/people/<handle>``), compared in any letter case; colours come from a
fixed palette of classes (the strict CSP forbids ``style=``); time zones are IANA names.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

MAX_DISPLAY_NAME = 64
HANDLE = re.compile(r"[a-z0-9_-]{2,32}")
DEFAULT_TIME_ZONE = "UTC"

# Keys are CSS classes (``c-<key>``, see chat.css); each colour keeps 4.5:1 contrast on the
# page's light background for the author's name.
PALETTE: dict[str, str] = {
    "red": "Red",
    "orange": "Orange",
    "green": "Green",
    "teal": "Teal",
    "blue": "Blue",
    "indigo": "Indigo",
    "purple": "Purple",
    "pink": "Pink",
    "brown": "Brown",
    "slate": "Slate",
}


class PersonError(ValueError):
    """A name or setting we refuse; ``message`` is safe to show, ``field`` is the input to fix."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def clean_display_name(raw: str) -> str:
    """A display name as stored: trimmed, inner runs of white space made one space."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise PersonError("Enter a display name.", "display_name")
    if len(name) > MAX_DISPLAY_NAME:
        raise PersonError(f"A display name has at most {MAX_DISPLAY_NAME} characters.", "display_name")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in name):
        raise PersonError("A display name cannot contain control or invisible characters.", "display_name")
    return name


def clean_handle(raw: str) -> str:
    """A handle as stored: lower case, ``a-z 0-9 _ -``, 2 to 32 characters."""
    handle = raw.strip().lower().lstrip("@")
    if not HANDLE.fullmatch(handle):
        raise PersonError("A handle is 2 to 32 of a-z, 0-9, _ and -.", "handle")
    return handle


def name_from_email(email: str) -> str:
    """The default display name: the part of the email before the @."""
    local = email.split("@", 1)[0].strip()
    try:
        return clean_display_name(local)
    except PersonError:
        return "someone"


def handle_base(display_name: str) -> str:
    """The handle a display name suggests (``Ada Lovelace`` -> ``ada-lovelace``); a store adds ``-2``... on a clash."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9_]+", "-", ascii_name).strip("-_")[:28].strip("-_")
    return base if len(base) >= 2 else f"user{base}"


def handle_candidates(display_name: str, limit: int = 50):
    """``base``, ``base-2``, ``base-3``...: the handles to try, in order."""
    base = handle_base(display_name)
    yield base
    for n in range(2, limit + 2):
        yield f"{base}-{n}"


def default_colour(uid: str) -> str:
    """A stable colour for someone who has not chosen one, derived from their id."""
    keys = list(PALETTE)
    return keys[int.from_bytes(hashlib.sha256(uid.encode()).digest()[:4], "big") % len(keys)]


def clean_colour(raw: str) -> str:
    if raw not in PALETTE:
        raise PersonError("Choose one of the listed colours.", "colour")
    return raw


@cache
def time_zones() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted, UTC first."""
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return (DEFAULT_TIME_ZONE, *zones)


def clean_time_zone(raw: str) -> str:
    if raw not in time_zones():
        raise PersonError("Choose a time zone from the list.", "time_zone")
    return raw
