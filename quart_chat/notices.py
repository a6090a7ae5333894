"""What travels on a person's hub channel: small notices for their open pages. Pure, strings only.

Each notice is a dict of strings with a ``kind``; every socket of the person, on every instance,
gets it (``Hub.notify``). The live core (``LiveProtocol`` and its ``Sidebar``) decides what each
means for its page:

- ``signed-out``: one session ended (log-out); its sockets close at once with 1008. ``session``
  is a hash of the session token, never the token. With ``scope`` "all" every session of the
  person ended (a provider whose sign-out revokes them all, as Firebase's does): every socket closes.
- ``unread``: a message arrived in ``place`` (``cursor``, ``id``, its ``author``, ``mention`` "1"
  when it mentions the person): a sidebar count rises.
- ``read``: the person read ``place`` up to ``cursor`` (on another page or device): its count resets.
- ``joined`` / ``left``: the person's sidebar changed (a room opened elsewhere, a new conversation):
  it is read again from the store.
"""

from __future__ import annotations

import hashlib

from quart_chat.models import Message

SIGNED_OUT, UNREAD, READ, JOINED, LEFT = "signed-out", "unread", "read", "joined", "left"
SCOPE_SESSION, SCOPE_ALL = "session", "all"  # what a signed-out notice ended


def session_id(token: str) -> str:
    """A session's name on the bus: a hash of its token (a token never leaves the process)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32] if token else ""


def signed_out(token: str, *, every_session: bool = False) -> dict[str, str]:
    return {
        "kind": SIGNED_OUT,
        "session": session_id(token),
        "scope": SCOPE_ALL if every_session else SCOPE_SESSION,
    }


def unread(place: str, message: Message, mentioned: bool) -> dict[str, str]:
    return {
        "kind": UNREAD,
        "place": place,
        "cursor": message.cursor,
        "id": message.id,
        "author": message.author_uid,
        "mention": "1" if mentioned else "",
    }


def read(place: str, cursor: str) -> dict[str, str]:
    return {"kind": READ, "place": place, "cursor": cursor}


def joined(place: str) -> dict[str, str]:
    return {"kind": JOINED, "place": place}


def left(place: str) -> dict[str, str]:
    return {"kind": LEFT, "place": place}
