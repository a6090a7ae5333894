"""Finding ``@handle`` mentions in text and splitting it into the tokens a row renders."""

from __future__ import annotations

from quart_chat.mentions import MAX_MENTIONS, Token, handles_in, mentioned_uids, tokens


def test_handles_are_found_once_each_in_any_case_and_not_inside_words_or_emails() -> None:
    text = "@Ada and @bob_1, see ada@example.com, x@y, @ada again; (@cy-2) @z @toolong" + "x" * 40
    assert handles_in(text) == ["ada", "bob_1", "cy-2"]
    assert handles_in("no one here") == []
    assert handles_in("email@ada.com @@ada") == []


def test_at_most_max_mentions_are_resolved() -> None:
    many = " ".join(f"@user{i:02d}" for i in range(MAX_MENTIONS + 5))
    assert len(handles_in(many)) == MAX_MENTIONS


def test_tokens_link_the_resolved_mentions_only_and_keep_every_character() -> None:
    text = "Hi @Ada, ask @nobody or <b>@bob</b>!"
    got = tokens(text, {"ada": "u1", "bob": "u2"})
    assert "".join(t.text for t in got) == text
    assert [t for t in got if t.handle] == [Token("@Ada", "ada", "u1"), Token("@bob", "bob", "u2")]
    assert tokens(text, {}) == [Token(text)]
    assert tokens("@ada", {"ada": "u1"}) == [Token("@ada", "ada", "u1")]


def test_mentioned_uids_are_each_once() -> None:
    assert mentioned_uids([("ada", "u1"), ("Ada", "u1"), ("bob", "u2")]) == ["u1", "u2"]
