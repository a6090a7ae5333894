from datetime import UTC, datetime

import pytest

from quart_chat.models import Message, make_cursor, parse_cursor


def test_cursor_round_trips_to_the_microsecond() -> None:
    when = datetime(2026, 11, 26, 19, 0, 0, 123456, tzinfo=UTC)
    assert parse_cursor(make_cursor(when, "abc")) == (when, "abc")


def test_cursors_sort_by_time_then_id() -> None:
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    t2 = datetime(2026, 1, 2, tzinfo=UTC)
    cursors = [make_cursor(t2, "a"), make_cursor(t1, "b"), make_cursor(t1, "a")]
    assert sorted(cursors) == [make_cursor(t1, "a"), make_cursor(t1, "b"), make_cursor(t2, "a")]


@pytest.mark.parametrize("bad", ["", "123-x", "abc", "0000000000000000a-1", "00000000000000000-", "x" * 100])
def test_bad_cursors_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cursor(bad)


def test_message_cursor_uses_its_time_and_id() -> None:
    when = datetime(2026, 11, 26, tzinfo=UTC)
    msg = Message("42", "general", "u", "ada@example.com", "hi", when)
    assert msg.cursor == make_cursor(when, "42")
