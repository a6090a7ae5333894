"""The pure rules for names (PRECIS Nickname) and handles (PRECIS UsernameCaseMapped, then a-z 0-9 _ -)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quart_chat import people, visible_text
from quart_chat.people import PersonError, clean_display_name, clean_handle


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Ada   Lovelace ", "Ada Lovelace"),  # spaces made one and trimmed
        ("Ada\u3000Lovelace", "Ada Lovelace"),  # an ideographic space is a space
        ("\uff21\uff44\uff41", "Ada"),  # full-width letters are the letters (NFKC)
        ("Zoe\u0308", "Zo\u00eb"),
        ("\u00c5sa \U0001f600", "\u00c5sa \U0001f600"),
        ("\u674e\u5c0f\u9f99", "\u674e\u5c0f\u9f99"),
    ],
)
def test_display_names_are_stored_in_one_spelling(raw: str, stored: str) -> None:
    assert clean_display_name(raw) == stored


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("Ada\u200b", "invisible characters"),  # zero-width space
        ("\u202eadA", "invisible characters"),  # right-to-left override
        ("\u3164", "invisible characters"),  # Hangul filler
        ("\uffa0", "invisible characters"),
        ("\U0001f469\u200d\U0001f4bb Ada", "invisible characters"),  # RFC 8266 refuses the ZWJ too
        ("\u2800", "visible character"),  # Braille blank: PRECIS allows it, it shows nothing
        ("Ada\nLovelace", "control characters"),
        ("Ada\x00", "control characters"),
        ("Ada\x1b[31m", "control characters"),
        ("   ", "Enter a display name"),
        ("x" * 65, "at most 64"),
        ("x" * 10_000, "at most 64"),
        ("\ue000", "U+E000"),  # private use
    ],
)
def test_display_names_that_could_impersonate_or_vanish_are_refused(raw: str, says: str) -> None:
    with pytest.raises(PersonError) as refused:
        clean_display_name(raw)
    assert says in refused.value.message and refused.value.field == "display_name"


@pytest.mark.parametrize(("raw", "stored"), [("Ada", "ada"), ("@ada_2", "ada_2"), ("\uff21\uff24\uff21", "ada")])
def test_handles_are_mapped_then_checked(raw: str, stored: str) -> None:
    assert clean_handle(raw) == stored


@pytest.mark.parametrize("raw", ["a\u200bda", "ad a", "a", "\u00e1da", "ada\u202e", "x" * 33, "a\nda"])
def test_handles_outside_the_rule_are_refused(raw: str) -> None:
    with pytest.raises(PersonError):
        clean_handle(raw)


def test_the_default_name_comes_from_the_emails_local_part_or_is_someone() -> None:
    assert people.name_from_email("Ada.Lovelace@example.com") == "Ada.Lovelace"
    assert people.name_from_email("\u2800@example.com") == "someone"


ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)


@given(ANY_TEXT)
def test_a_display_name_is_normalised_visible_and_free_of_controls_or_refused(raw: str) -> None:
    try:
        name = clean_display_name(raw)
    except PersonError as exc:
        assert exc.message and exc.field == "display_name"
        return
    assert unicodedata.is_normalized("NFKC", name)
    assert visible_text.has_visible(name) and 1 <= len(name) <= people.MAX_DISPLAY_NAME
    assert not any(visible_text.is_default_ignorable(c) or unicodedata.category(c) == "Cc" for c in name)
    assert name == name.strip() and "  " not in name
    assert clean_display_name(name) == name


@given(ANY_TEXT | st.from_regex(r"@?[A-Za-z0-9_\-\uff21-\uff3a]{1,34}", fullmatch=True))
def test_a_handle_is_always_the_ascii_rule_or_refused(raw: str) -> None:
    try:
        handle = clean_handle(raw)
    except PersonError:
        return
    assert people.HANDLE.fullmatch(handle) and clean_handle(handle) == handle
