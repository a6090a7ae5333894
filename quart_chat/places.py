"""Where a conversation happens: a public room or a one-to-one conversation. Pure: no I/O.

To the live path (history, live rows, presence, typing, read cursors) both are the same thing, a
*place* with a ``key`` the store and the hub know it by. A public room's key is its name
(``validation.ROOM_NAME``: a-z, 0-9, '-'). A conversation's key is ``dm_`` and an HMAC of its two
participants' uids under a server secret: the same on every instance, and telling nobody who talks to
whom. The ``_`` can never appear in a room name, so no room URL can ever name a conversation.

People reach a conversation only as ``/dm/<handle>``, the viewer's own conversation with that person;
:meth:`Place.allows` is the one rule every route checks (see ``web/places.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from quart_chat import visible_text
from quart_chat.models import Profile
from quart_chat.validation import ROOM_NAME

CONVERSATION_PREFIX = "dm_"
CONVERSATION_KEY = re.compile(r"dm_[0-9a-f]{32}")
ROOM_RULE = "A room name is 1 to 32 letters, digits or dashes (spaces become dashes), like design-team."
TOPIC_MAX = 120
TOPIC_NOT_TEXT = "A topic must be text (it is not valid Unicode)."
TOPIC_CONTROL = "A topic cannot contain control characters."
TOPIC_BIDI = (
    "A topic cannot contain text-direction controls (U+202A to U+202E or U+2066 to U+2069), "
    "which can make it show something other than what it says."
)
TOPIC_INVISIBLE = "That topic has no visible text: only spaces, fillers or zero-width characters."
_KEY_LABEL = b"quart-chat: conversation ids"
_CHECK_LABEL = b"quart-chat: page check\0"


class PlaceError(ValueError):
    """A name or topic we refuse; ``message`` says what is allowed and is safe to show."""

    def __init__(self, message: str, field: str = "name") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def room_name(raw: str) -> str:
    """A room name the way people type it, normalised: ``#Design Team`` -> ``design-team``.

    Letters lose their accents (``Café`` -> ``cafe``), anything else becomes one dash; what is left
    must be 1 to 32 characters. Used by the switcher, ``POST /rooms`` and the address bar alike.
    """
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    name = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if ROOM_NAME.fullmatch(name) is None:
        raise PlaceError(ROOM_RULE)
    return name


def room_topic(raw: str) -> str:
    """A room's topic: one line of at most :data:`TOPIC_MAX` characters, trimmed, in NFC; may be empty.

    The rules of message text (``validation.clean_text``, from ``visible_text``), since a topic is
    shown to everyone as a message is: no lone surrogates, control characters or bidi overrides,
    embeddings and isolates, and not only invisible characters (a topic that looks empty, or a
    name that reads backwards). A zero-width joiner inside ``👩‍💻`` is ordinary text, as in messages.
    """
    if visible_text.has_surrogate(raw):
        raise PlaceError(TOPIC_NOT_TEXT, "topic")
    topic = " ".join(unicodedata.normalize("NFC", raw).split())
    if len(topic) > TOPIC_MAX:
        raise PlaceError(f"A topic has at most {TOPIC_MAX} characters.", "topic")
    if any(unicodedata.category(c) == "Cc" for c in topic):
        raise PlaceError(TOPIC_CONTROL, "topic")
    if visible_text.has_bidi_control(topic):
        raise PlaceError(TOPIC_BIDI, "topic")
    if topic and not visible_text.has_visible(topic):
        raise PlaceError(TOPIC_INVISIBLE, "topic")
    return topic


def shown_topic(stored: str) -> str:
    """A stored topic as a page shows it: one today's :func:`room_topic` refuses (saved before this
    rule, or written to the store some other way) is shown as no topic, never as a trick."""
    try:
        return room_topic(stored)
    except PlaceError:
        return ""


def conversation_secret(app_secret: str | bytes) -> bytes:
    """The key conversation ids are made with, derived from the app's secret (never the secret itself)."""
    secret = app_secret.encode() if isinstance(app_secret, str) else app_secret
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def conversation_key(secret: bytes, uid_a: str, uid_b: str) -> str:
    """The one key of the conversation between two people (the same for either order, or for one person)."""
    low, high = sorted((uid_a, uid_b))
    digest = hmac.new(secret, f"{low}\0{high}".encode(), hashlib.sha256).hexdigest()[:32]
    return CONVERSATION_PREFIX + digest


def is_conversation(key: str) -> bool:
    return CONVERSATION_KEY.fullmatch(key) is not None


def page_check(key: str) -> str:
    """What a conversation's page carries to say which conversation it was made for (``?peer=``, a
    hidden ``peer`` field): a short hash of the key, so no key or uid is in the HTML.

    Why: a page is addressed ``/dm/<handle>``, and a handle can pass to someone else (its owner takes
    another, a third person takes it). A form or a reconnecting socket of a page made before must not
    then reach the new owner; the server compares this with the check of the conversation the handle
    names now (``web/places.py``). Not a secret: it tells whether two pages are of one conversation.
    """
    return hashlib.sha256(_CHECK_LABEL + key.encode()).hexdigest()[:16]


def dom_id(key: str) -> str:
    """A page element id for a place's sidebar link: stable, and no key (or uid) in the HTML."""
    return "nav-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Place:
    """A room or a conversation as one viewer reaches it."""

    kind: Literal["room", "dm"]
    key: str  # what the store and the hub call it
    path: str  # its address for this viewer: /rooms/<name> or /dm/<handle>
    label: str  # "#general", or the other person's display name
    participants: tuple[str, ...] = ()  # a conversation's uids (one for notes to self); () for a room
    handle: str = ""  # a conversation's other person's handle (their card is /people/<handle>)
    check: str = ""  # a conversation's page_check, carried by its pages' forms and links; "" for a room

    @classmethod
    def room(cls, name: str) -> Place:
        if ROOM_NAME.fullmatch(name) is None:
            raise PlaceError(ROOM_RULE)
        return cls("room", name, f"/rooms/{name}", f"#{name}")

    @classmethod
    def conversation(cls, key: str, viewer_uid: str, partner: Profile) -> Place:
        if not is_conversation(key):
            raise PlaceError("not a conversation")
        label = f"{partner.display_name} (you)" if partner.uid == viewer_uid else partner.display_name
        participants = tuple(dict.fromkeys((viewer_uid, partner.uid)))
        return cls("dm", key, f"/dm/{partner.handle}", label, participants, partner.handle, page_check(key))

    @property
    def is_room(self) -> bool:
        return self.kind == "room"

    @property
    def query(self) -> dict[str, str]:
        """What every link and socket URL of this place's page adds to its query string."""
        return {"peer": self.check} if self.check else {}

    def allows(self, uid: str) -> bool:
        """The one access rule: a public room is anyone's who is signed in; a conversation its two people's."""
        if self.kind == "room":
            return not is_conversation(self.key)
        return uid in self.participants and is_conversation(self.key)

    def partner_of(self, uid: str) -> str:
        """The other participant of a conversation (``uid`` itself for notes to self); "" for a room."""
        others = [p for p in self.participants if p != uid]
        return others[0] if others else (uid if self.participants else "")
