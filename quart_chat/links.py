"""Web addresses in a message's text: which spans become links. Pure.

Detection is linkify-it-py's (the linkify-it rules markdown-it uses: balanced brackets, trailing
punctuation left out, full Unicode hosts), with its fuzzy modes off: only text that spells its own
``http://`` or ``https://`` is a link. Anything else it knows (``mailto:``, ``ftp:``, ``//host``) stays
text, and so, by construction, does ``javascript:`` or any other scheme: the scheme test below is the
one gate, so a new linkify-it schema can never widen what we link.

Only spans are returned; the row template makes the ``<a>`` from them, autoescaped, so user text is
never pasted into HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from linkify_it import LinkifyIt

SCHEMES = ("http://", "https://")
REL = "noopener noreferrer nofollow ugc"  # user-written links: no opener, no referrer, no ranking


@dataclass(frozen=True, slots=True)
class Span:
    """``text[start:end]`` is a link to ``href`` (the text itself, an http(s) URL)."""

    start: int
    end: int
    href: str


@cache
def _linkify() -> LinkifyIt:
    return LinkifyIt(options={"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})


def find(text: str) -> list[Span]:
    """The http(s) addresses in ``text``, in order, not overlapping."""
    if "://" not in text:
        return []
    out: list[Span] = []
    for match in _linkify().match(text) or []:
        href = text[match.index : match.last_index]
        if href.lower().startswith(SCHEMES) and len(href) > len("https://"):
            out.append(Span(match.index, match.last_index, href))
    return out
