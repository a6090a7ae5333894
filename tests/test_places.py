"""Rooms and conversations as places: names as people type them, conversation keys, the access rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quart_chat.models import Profile
from quart_chat.places import (
    ROOM_RULE,
    Place,
    PlaceError,
    conversation_key,
    conversation_secret,
    dom_id,
    is_conversation,
    page_check,
    room_name,
    room_topic,
    shown_topic,
)
from quart_chat.validation import is_room_name

ADA = Profile("uid-ada", "ada", "Ada Lovelace", "blue", "UTC", datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("#Design Team", "design-team"),
        ("Design", "design"),
        ("#design", "design"),
        ("  dev__ops  ", "dev-ops"),
        ("Café crème", "cafe-creme"),
        ("--a--", "a"),
        ("x" * 32, "x" * 32),
    ],
)
def test_room_names_are_normalised_the_way_people_type_them(typed: str, name: str) -> None:
    assert room_name(typed) == name


@pytest.mark.parametrize("typed", ["", "#", "日本語", "x" * 33, "   "])
def test_a_name_that_cannot_be_a_room_says_what_is_allowed(typed: str) -> None:
    with pytest.raises(PlaceError) as refused:
        room_name(typed)
    assert refused.value.message == ROOM_RULE and refused.value.field == "name"


def test_topics_are_one_trimmed_line_of_bounded_length() -> None:
    assert room_topic("  Pixels\n and   type ") == "Pixels and type"
    assert room_topic("") == ""
    with pytest.raises(PlaceError, match="at most 120"):
        room_topic("x" * 121)
    with pytest.raises(PlaceError, match="text-direction"):
        room_topic("a\u202eb")


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        ("\u202egnp.exe", "text-direction controls"),  # shows as "exe.png"
        ("design \u2066team\u2069", "text-direction controls"),  # an isolate
        ("\u2800", "no visible text"),  # braille blank: a topic that looks empty
        ("\u200b\u200d \u3164", "no visible text"),  # zero-width characters and a Hangul filler
        ("\u0301\u0301", "no visible text"),  # marks without a base
        ("a\x07b", "control characters"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_a_topic_follows_the_rules_of_message_text(typed: str, refusal: str) -> None:
    """visible_text's rules, as messages have them (issue 9 review, finding 4)."""
    with pytest.raises(PlaceError, match=refusal) as refused:
        room_topic(typed)
    assert refused.value.field == "topic"
    assert shown_topic(typed) == ""  # and one stored before the rule is shown as none


def test_a_topic_is_nfc_and_keeps_what_messages_keep() -> None:
    assert room_topic("Cafe\u0301 cre\u0300me") == "Caf\u00e9 cr\u00e8me"  # one spelling of each letter
    assert room_topic("Pair \U0001f469\u200d\U0001f4bb programming") == "Pair \U0001f469\u200d\U0001f4bb programming"
    assert room_topic("\u05e9\u05dc\u05d5\u05dd") == "\u05e9\u05dc\u05d5\u05dd"  # right-to-left text is text
    assert shown_topic("Pixels and type") == "Pixels and type"


def test_a_page_check_names_the_conversation_and_nothing_else() -> None:
    secret = conversation_secret("app-secret")
    ada_bob = conversation_key(secret, "uid-ada", "uid-bob")
    ada_carol = conversation_key(secret, "uid-ada", "uid-carol")
    assert page_check(ada_bob) == page_check(conversation_key(secret, "uid-bob", "uid-ada"))
    assert page_check(ada_bob) != page_check(ada_carol) and len(page_check(ada_bob)) == 16
    assert page_check(ada_bob) not in ada_bob and page_check(ada_bob) not in dom_id(ada_bob)
    assert Place.conversation(ada_bob, "uid-ada", ADA).query == {"peer": page_check(ada_bob)}
    assert Place.room("general").query == {} and Place.room("general").check == ""


def test_a_conversation_key_is_one_per_pair_and_tells_nothing_about_it() -> None:
    secret = conversation_secret("app-secret")
    key = conversation_key(secret, "uid-ada", "uid-bob")
    assert key == conversation_key(secret, "uid-bob", "uid-ada")  # either order
    assert is_conversation(key) and not is_room_name(key)  # no room URL can name it
    assert "ada" not in key and "bob" not in key
    assert key != conversation_key(secret, "uid-ada", "uid-cy")
    assert key != conversation_key(conversation_secret("another-secret"), "uid-ada", "uid-bob")
    assert conversation_key(secret, "uid-ada", "uid-ada") != key  # notes to self: a conversation of its own
    assert secret != b"app-secret" and len(secret) == 32


def test_the_access_rule_a_room_is_everyones_a_conversation_its_two_peoples() -> None:
    general = Place.room("general")
    assert general.allows("anyone") and general.path == "/rooms/general" and general.label == "#general"
    key = conversation_key(b"k", "uid-bob", ADA.uid)
    dm = Place.conversation(key, "uid-bob", ADA)
    assert dm.path == "/dm/ada" and dm.label == "Ada Lovelace" and dm.kind == "dm"
    assert dm.allows("uid-bob") and dm.allows(ADA.uid) and not dm.allows("uid-eve")
    assert dm.partner_of("uid-bob") == ADA.uid and dm.partner_of(ADA.uid) == "uid-bob"
    notes = Place.conversation(conversation_key(b"k", ADA.uid, ADA.uid), ADA.uid, ADA)
    assert notes.participants == (ADA.uid,) and notes.label == "Ada Lovelace (you)"
    assert notes.partner_of(ADA.uid) == ADA.uid and not notes.allows("uid-bob")
    with pytest.raises(PlaceError):
        Place.room(key)  # a conversation is never a room
    with pytest.raises(PlaceError):
        Place.conversation("general", "uid-bob", ADA)


def test_sidebar_element_ids_name_no_key() -> None:
    key = conversation_key(b"k", "a", "b")
    assert dom_id(key).startswith("nav-") and key[3:] not in dom_id(key) and dom_id(key) == dom_id(key)
    assert dom_id("general") != dom_id("random")
