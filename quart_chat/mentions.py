"""``@handle`` in a message: finding mentions in text, and the tokens a row is rendered from. Pure.

A row's text is plain text cut into tokens: plain pieces, mentions, and http(s) links
(``links.find``); nothing else in the text means anything. A mention inside a link stays part of the
link (``https://example.com/@ada`` links to the address, not to Ada).

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

from quart_chat import links

MENTION = re.compile(r"(?<![\w.@-])@([A-Za-z0-9_-]{2,32})(?![\w-])")
MAX_MENTIONS = 10  # distinct handles resolved per message; later ones stay text


def handles_in(text: str) -> list[str]:
    """The distinct handles mentioned, lower case, in order of first use (at most :data:`MAX_MENTIONS`)."""
    found = dict.fromkeys(m.group(1).lower() for m in MENTION.finditer(text))
    return list(found)[:MAX_MENTIONS]


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of a message's text: plain text, a mention (``handle`` set) or a link (``href`` set,
    always an http(s) address), shown as ``text``."""

    text: str
    handle: str | None = None
    uid: str | None = None
    href: str | None = None


def tokens(text: str, resolved: Mapping[str, str]) -> list[Token]:
    """``text`` split into plain pieces, http(s) links, and the mentions in ``resolved`` (lower-case
    handle -> uid). Mentions are found in the whole text (so the rule about what may stand before
    and after one is the same as :func:`handles_in`'s), then dropped where they overlap a link."""
    spans: list[tuple[int, int, Token]] = [(s.start, s.end, Token(s.href, href=s.href)) for s in links.find(text)]
    if resolved and "@" in text:
        for match in MENTION.finditer(text):
            uid = resolved.get(match.group(1).lower())
            start, end = match.span()
            if uid is not None and not any(a < end and start < b for a, b, _ in spans):
                spans.append((start, end, Token(match.group(0), match.group(1).lower(), uid)))
    if not spans:
        return [Token(text)]
    out: list[Token] = []
    last = 0
    for start, end, token in sorted(spans, key=lambda span: span[0]):
        if start > last:
            out.append(Token(text[last:start]))
        out.append(token)
        last = end
    if last < len(text):
        out.append(Token(text[last:]))
    return out


def mentioned_uids(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The uids of a message's mentions, each once."""
    return list(dict.fromkeys(uid for _, uid in pairs))
