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
