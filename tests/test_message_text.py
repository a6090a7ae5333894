"""A row's text: plain text, http(s) links and mentions, nothing else; no input makes markup.

Unit cases for ``links.find`` and ``mentions.tokens``, then Hypothesis: for any text (made to be
full of URLs, schemes, markup and quotes), the rendered ``<span class="text">`` parses back to the
exact text plus only our ``<a>`` elements, each with an http(s) address and our attributes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from quart_chat.links import REL, Span, find
from quart_chat.mentions import Token, tokens
from quart_chat.models import Message
from quart_chat.rendering import Renderer

RENDERER = Renderer()
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LINK_ATTRS = {"class": "link", "rel": REL, "target": "_blank"}


def test_only_http_and_https_addresses_are_links() -> None:
    assert find("see https://example.com/a?b=1, then") == [Span(4, 29, "https://example.com/a?b=1")]
    assert find("(http://example.org/x)") == [Span(1, 21, "http://example.org/x")]
    for text in ("javascript:alert(1)", "mailto:a@b.c", "ftp://example.com", "//example.com/x", "example.com",
                 "data:text/html,<b>", "https://", "JAVASCRIPT://example.com/%0aalert(1)"):
        assert find(text) == [], text


def test_tokens_are_text_links_and_known_mentions() -> None:
    got = tokens("hi @ada see https://example.com/@bob ok", {"ada": "u1", "bob": "u2"})
    assert got == [
        Token("hi "),
        Token("@ada", "ada", "u1"),
        Token(" see "),
        Token("https://example.com/@bob", href="https://example.com/@bob"),  # a mention inside a link is link
        Token(" ok"),
    ]
    assert tokens("no links here", {}) == [Token("no links here")]
    assert tokens("", {}) == [Token("")]
    assert tokens("https://a.org", {}) == [Token("https://a.org", href="https://a.org")]


def render_text(text: str, mentions: tuple[tuple[str, str], ...] = ()) -> str:
    html = RENDERER.row(Message("m1", "general", "u9", "Ada", text, AT, mentions), "UTC", now=AT)
    match = re.search(r'<span class="text">(.*)</span></li>$', html, re.S)
    assert match, html
    return match.group(1)


class SpanParser(HTMLParser):
    """Text and elements of a rendered span: every tag, with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ends: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", {}))

    def handle_decl(self, decl: str) -> None:
        self.tags.append(("!", {}))

    def handle_pi(self, data: str) -> None:
        self.tags.append(("?", {}))


def parsed(span: str) -> SpanParser:
    parser = SpanParser()
    parser.feed(span)
    parser.close()
    return parser


def test_a_link_is_rendered_with_our_attributes_and_nothing_else_is_markup() -> None:
    span = parsed(render_text('<b onclick="x">hi</b> https://example.com/"><script> javascript:alert(1)'))
    assert span.tags == [("a", {"href": "https://example.com/", **LINK_ATTRS})]
    assert "".join(span.text) == '<b onclick="x">hi</b> https://example.com/"><script> javascript:alert(1)'


NASTY = st.sampled_from([
    "https://", "http://", "HTTPS://", "javascript:", "JaVaScRiPt:", "data:", "vbscript:", "//", "@", "@ada",
    "<", ">", "&", '"', "'", "`", "=", "<a href=", "</span>", "<script>", "&lt;", "&#106;", "%0a", "\n", "\t",
    "example.com", "/x?y=1&z=2", "(", ")", "[", "]", ".", ",", " ", "例え.jp", "\u00a0", "#", ":", ";",
])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=25).map("".join)


@given(TEXT)
def test_any_text_renders_as_itself_plus_only_safe_links(text: str) -> None:
    span = parsed(render_text(text, (("ada", "uid-ada"),)))
    assert "".join(span.text) == text  # every character shown as typed: nothing eaten, nothing added
    for tag, attrs in span.tags:
        assert tag == "a", (tag, text)
        if attrs.get("class") == "mention":
            assert attrs == {"class": "mention", "href": "/people/ada", "data-uid": "uid-ada"}
            continue
        href = attrs.pop("href")
        assert attrs == LINK_ATTRS, (attrs, text)
        assert href is not None and re.match(r"https?://", href, re.I), (href, text)
        assert href in text  # the address is the text itself, never made up
    assert span.ends == ["a"] * len(span.tags)
