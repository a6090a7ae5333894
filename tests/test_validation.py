import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quart_chat import visible_text
from quart_chat.validation import FrameError, clean_text, is_room_name, parse_frame


@pytest.mark.parametrize("name", ["general", "a", "dev-ops", "room-42", "x" * 32])
def test_room_names_that_open(name: str) -> None:
    assert is_room_name(name)


@pytest.mark.parametrize("name", ["", "General", "x" * 33, "a_b", "a b", "../etc", "ä", "room\n"])
def test_room_names_that_do_not(name: str) -> None:
    assert not is_room_name(name)


def test_htmx4_frame() -> None:
    raw = json.dumps({"message": "  Hello, world!  ", "headers": {"HX-Request": "true"}})
    frame = parse_frame(raw, 2000)
    assert frame.text == "Hello, world!"


def test_htmx2_frame_shape_is_accepted() -> None:
    frame = parse_frame(json.dumps({"message": "hi", "HEADERS": {"HX-Request": "true"}}), 2000)
    assert frame.text == "hi"


def test_bytes_frame_is_decoded() -> None:
    assert parse_frame(json.dumps({"message": "héllo"}).encode(), 10).text == "héllo"


def test_empty_and_whitespace_frames_give_empty_text() -> None:
    assert parse_frame(json.dumps({"message": "   \n "}), 10).text == ""
    assert parse_frame(json.dumps({"headers": {}}), 10).text == ""


def test_limit_counts_characters_after_stripping() -> None:
    assert parse_frame(json.dumps({"message": " " + "é" * 5 + " "}), 5).text == "é" * 5
    with pytest.raises(FrameError, match="limit is 5"):
        parse_frame(json.dumps({"message": "x" * 6}), 5)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        None,  # Quart's receive() for an empty binary frame (found by tests/test_fuzz.py)
        b"",
        "",
        b"\xff\xfe",
        json.dumps(["message", "x"]),
        json.dumps({"message": 5}),
        json.dumps({"message": ["a", "b"]}),
        json.dumps({"message": "bell\x07"}),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(raw: str | bytes) -> None:
    with pytest.raises(FrameError) as exc:
        parse_frame(raw, 2000)
    assert exc.value.message


def test_newlines_and_tabs_are_kept() -> None:
    assert parse_frame(json.dumps({"message": "a\r\nb\tc"}), 20).text == "a\nb\tc"


# -- issue 12: frames that crashed the reader, and text that lies about what it says ----------------


def test_json_nested_deeper_than_python_recurses_is_refused_not_a_recursion_error() -> None:
    deep = "[" * 20_000 + "]" * 20_000  # 40 KB: under the frame limit
    with pytest.raises(FrameError, match="nested too deeply"):
        parse_frame(deep, 2000, 65536)
    with pytest.raises(FrameError, match="nested too deeply"):
        parse_frame('{"message": ' + '{"a": ' * 20_000 + "1" + "}" * 20_001, 2000, 1 << 20)


def test_a_lone_surrogate_is_refused_wherever_it_is_text() -> None:
    with pytest.raises(FrameError, match="not valid Unicode text"):
        parse_frame('{"message": "\\ud800"}', 2000)
    with pytest.raises(FrameError, match="not valid Unicode text"):
        parse_frame('{"message": "ok \\udfff then"}', 2000)
    with pytest.raises(FrameError):  # the same code point as raw bytes is not UTF-8 at all
        parse_frame(b'{"message": "\xed\xa0\x80"}', 2000)
    # A typing notice stores nothing, so its draft is not read; the client id must be an id.
    assert parse_frame('{"typing": "1", "message": "\\ud800"}', 2000).notice == "typing"
    with pytest.raises(FrameError):
        parse_frame('{"message": "hi", "client_id": "\\ud800' + "a" * 20 + '"}', 2000)


BIDI_CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_bidi_overrides_embeddings_and_isolates_are_refused(control: str) -> None:
    with pytest.raises(FrameError, match="text-direction controls"):
        clean_text(f"pay {control}txt.exe", 2000)


@pytest.mark.parametrize(
    "blank",
    [
        "\u200b",  # zero-width space
        "\u200b\u200c\u200d\u2060",  # ... joiners, word joiner
        "\u3164",  # Hangul filler
        "\u115f\u1160",  # Hangul choseong / jungseong fillers
        "\uffa0",  # half-width Hangul filler
        "\u2800",  # Braille pattern blank
        "\ufe0f\ufe0e",  # variation selectors alone
        "\U000e0041\U000e007f",  # tag characters alone
        "\u00ad",  # soft hyphen
        "\u034f",  # combining grapheme joiner
        "\u0301\u0308",  # combining marks without a base
        "\u3000 \u2003",  # ideographic and em spaces (stripped: empty, ignored)
    ],
)
def test_text_that_draws_nothing_is_refused_or_ignored(blank: str) -> None:
    if blank.strip() == "":
        assert clean_text(blank, 2000) == ""  # all white space: an empty send, ignored
        return
    with pytest.raises(FrameError, match="no visible text"):
        clean_text(blank, 2000)


@pytest.mark.parametrize(
    "text",
    [
        "\U0001f469\u200d\U0001f4bb at work",  # woman technologist: a ZWJ sequence
        "\U0001f469\u200d\U0001f4bb",  # the sequence alone
        "I \u2764\ufe0f it",  # heart with its emoji variation selector
        "\u2764\ufe0f",
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # the flag of Scotland (tags)
        "\u0645\u0631\u062d\u0628\u0627 \u200f(hello)",  # Arabic with a right-to-left mark: not an override
        "soft\u00adhyphen",
        "a\u200bb",  # text that merely contains a zero-width space
    ],
)
def test_ordinary_text_with_joiners_and_selectors_stays_as_it_is(text: str) -> None:
    assert clean_text(text, 2000) == text


def test_text_is_stored_in_nfc() -> None:
    assert clean_text("Zoe\u0308 cafe\u0301", 2000) == "Zo\u00eb caf\u00e9"
    assert clean_text("\u212b", 2000) == "\u00c5"  # the angstrom sign is the letter


def test_c1_controls_and_delete_are_refused_too() -> None:
    for control in ("\x7f", "\x85", "\x9b"):  # DEL, NEL, CSI
        with pytest.raises(FrameError, match="control characters"):
            clean_text(f"a{control}b", 2000)


ANY_TEXT = st.text(alphabet=st.characters(codec=None, categories=None), max_size=80)


@given(ANY_TEXT)
def test_clean_text_yields_nfc_visible_text_without_bidi_controls_or_refuses(text: str) -> None:
    try:
        cleaned = clean_text(text, 60)
    except FrameError as exc:
        assert exc.message
        return
    assert unicodedata.is_normalized("NFC", cleaned)
    assert not visible_text.has_bidi_control(cleaned) and not visible_text.has_surrogate(cleaned)
    assert cleaned == "" or visible_text.has_visible(cleaned)
    assert len(cleaned) <= 60 and cleaned == cleaned.strip()
    assert clean_text(cleaned, 60) == cleaned  # one rule, applied twice, changes nothing more


@given(ANY_TEXT, st.sampled_from(BIDI_CONTROLS), ANY_TEXT)
def test_no_bidi_control_ever_gets_through(before: str, control: str, after: str) -> None:
    with pytest.raises(FrameError):
        clean_text(before + control + after, 1000)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner) | st.dictionaries(ANY_TEXT, inner),
    max_leaves=30,
)
FORMS = st.fixed_dictionaries({"message": JSON}, optional={"client_id": JSON, "typing": JSON, "headers": JSON})


@given(FORMS | JSON)
def test_parse_frame_refuses_or_accepts_any_json_without_crashing(value: object) -> None:
    try:
        frame = parse_frame(json.dumps(value), 200, 65536)
    except FrameError as exc:
        assert exc.message
        return
    assert not visible_text.has_surrogate(frame.text)


# -- issue 10: a refused message is given back, never cut ----------------------------------------------


def test_pasted_lines_are_kept_and_other_controls_still_refused() -> None:
    assert parse_frame(json.dumps({"message": "one\ntwo\r\nthree\n"}), 100).text == "one\ntwo\nthree"
    with pytest.raises(FrameError):
        parse_frame(json.dumps({"message": "one\x0btwo"}), 100)  # a vertical tab is not a line break


def test_text_over_the_limit_is_refused_whole_with_the_text_given_back() -> None:
    typed = "x" * 2500
    with pytest.raises(FrameError) as exc:
        parse_frame(json.dumps({"message": typed}), 2000)
    assert exc.value.message == "Message too long: 2500 characters, the limit is 2000."
    assert exc.value.text == typed  # for the composer to show again, whole


def test_a_lone_surrogate_is_not_given_back() -> None:
    with pytest.raises(FrameError) as exc:
        parse_frame('{"message": "a\\ud800b"}', 2000)
    assert exc.value.text == ""
