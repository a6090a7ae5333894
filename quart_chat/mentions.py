"""``@handle`` in a message: finding mentions in text, and the tokens a row is rendered from. Pure.

A mention is ``@`` and a handle (``people.HANDLE``, in any letter case) that does not sit inside a
word or an email address (``ada@example.com`` mentions nobody). The sender's server resolves the
handles once, when the message is stored (``Message.mentions``: (handle, uid) pairs); a row links
only the ones that were somebody then. The link is made by the row template from these tokens, so
user text is never pasted into HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MENTION = re.compile(r"(?<![\w.@-])@([A-Za-z0-9_-]{2,32})(?![\w-])")
MAX_MENTIONS = 10  # distinct handles resolved per message; later ones stay text


def handles_in(text: str) -> list[str]:
    """The distinct handles mentioned, lower case, in order of first use (at most :data:`MAX_MENTIONS`)."""
    found = dict.fromkeys(m.group(1).lower() for m in MENTION.finditer(text))
    return list(found)[:MAX_MENTIONS]


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of a message's text: plain text, or a mention (``handle`` set) shown as ``text``."""

    text: str
    handle: str | None = None
    uid: str | None = None


def tokens(text: str, resolved: Mapping[str, str]) -> list[Token]:
    """``text`` split into plain pieces and the mentions in ``resolved`` (lower-case handle -> uid)."""
    if not resolved or "@" not in text:
        return [Token(text)]
    out: list[Token] = []
    last = 0
    for match in MENTION.finditer(text):
        handle = match.group(1).lower()
        uid = resolved.get(handle)
        if uid is None:
            continue
        if match.start() > last:
            out.append(Token(text[last : match.start()]))
        out.append(Token(match.group(0), handle, uid))
        last = match.end()
    if last < len(text):
        out.append(Token(text[last:]))
    return out


def mentioned_uids(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The uids of a message's mentions, each once."""
    return list(dict.fromkeys(uid for _, uid in pairs))
