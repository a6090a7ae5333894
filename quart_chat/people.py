"""The rules for how people are named and shown: pure functions, no I/O.

Display names are free text (1 to 64 characters) under PRECIS's Nickname profile (RFC 8266);
handles are the unique, URL-safe name (``/people/<handle>``), compared in any letter case, under
its UsernameCaseMapped profile (RFC 8265) and then ``a-z 0-9 _ -``; colours come from a fixed
palette of classes (the strict CSP forbids ``style=``); time zones are IANA names.

PRECIS (precis-i18n) is what keeps a name from impersonating another: width and case mapping and
normalisation make look-alike spellings one, and controls, invisible characters (zero-width
spaces and joiners, fillers, variation selectors, bidi controls) and unassigned code points are
refused. Names stored before these rules are shown as they are; only a change must pass them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

from precis_i18n import get_profile

from quart_chat import visible_text

MAX_DISPLAY_NAME = 64
HANDLE = re.compile(r"[a-z0-9_-]{2,32}")
DEFAULT_TIME_ZONE = "UTC"
NICKNAME = get_profile("NicknameCasePreserved")  # spaces mapped to one ASCII space, trimmed, NFKC
USERNAME = get_profile("UsernameCaseMapped")  # width-mapped, lower case, NFC

NAME_INVISIBLE = (
    "A display name cannot contain invisible characters (zero-width characters, fillers, "
    "text-direction controls or the variation selectors some emoji carry)."
)
NAME_CONTROL = "A display name cannot contain control characters such as line breaks or tabs."
NAME_NOT_VISIBLE = "A display name needs at least one visible character."
HANDLE_RULE = "A handle is 2 to 32 of a-z, 0-9, _ and -."
# PRECIS's reasons (precis-i18n's ``UnicodeEncodeError.reason``, "DISALLOWED/<rule>") that mean "invisible".
_INVISIBLE_RULES = ("precis_ignorable_properties", "zero_width_joiner", "zero_width_nonjoiner", "old_hangul_jamo")

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
    """A display name as stored: PRECIS Nickname (spaces made one, trimmed, NFKC), 1 to 64 characters."""
    if len(raw) > 16 * MAX_DISPLAY_NAME:  # PRECIS is linear, but a 64 KiB name is not worth mapping
        raise PersonError(f"A display name has at most {MAX_DISPLAY_NAME} characters.", "display_name")
    try:
        name = NICKNAME.enforce(raw)
    except UnicodeError as exc:
        raise PersonError(_nickname_refusal(exc), "display_name") from None
    if len(name) > MAX_DISPLAY_NAME:
        raise PersonError(f"A display name has at most {MAX_DISPLAY_NAME} characters.", "display_name")
    if not visible_text.has_visible(name):  # "⠀" (U+2800) passes PRECIS, yet shows no name
        raise PersonError(NAME_NOT_VISIBLE, "display_name")
    return name


def _nickname_refusal(exc: UnicodeError) -> str:
    rule = str(getattr(exc, "reason", "")).rpartition("/")[2]
    if rule == "empty":
        return "Enter a display name."
    if rule == "controls":
        return NAME_CONTROL
    if rule in _INVISIBLE_RULES:
        return NAME_INVISIBLE
    text, start = getattr(exc, "object", ""), getattr(exc, "start", 0)
    if isinstance(text, str) and 0 <= start < len(text):
        return f"A display name cannot contain the character U+{ord(text[start]):04X}."
    return "A display name cannot contain that character."


def clean_handle(raw: str) -> str:
    """A handle as stored: PRECIS UsernameCaseMapped (full-width ``ADA`` is ``ada``), then ``a-z 0-9 _ -``, 2 to 32."""
    raw = raw.strip().lstrip("@")
    if len(raw) > 4 * 32:
        raise PersonError(HANDLE_RULE, "handle")
    try:
        handle = USERNAME.enforce(raw)
    except UnicodeError:
        raise PersonError(HANDLE_RULE, "handle") from None
    if not HANDLE.fullmatch(handle):
        raise PersonError(HANDLE_RULE, "handle")
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
