import json

import pytest

from quart_chat.validation import FrameError, is_room_name, parse_frame


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
