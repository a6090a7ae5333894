from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# Issue 12: each of these reached a store and ended in a 500 (or a socket closed 1000).
NOT_MADE_BY_MAKE_CURSOR = [
    "0000000000000000\u00b2-1",  # a superscript two in the time: str.isdigit() says yes, int() says no
    "00000000000000000-\u00b2",  # ... and in the id
    "0000000000000000\u0663-1",  # an Arabic-Indic three
    "00000000000000000--1",  # a negative id
    "00000000000000000-99999999999999999999999999999999999",  # an id longer than any store makes
    "00000000000000000-ABC",  # ids are lower case
    "000000000000000000-1",  # 18 digits of time
    " 00000000000000000-1",
    "00000000000000000-1\n",
]


@pytest.mark.parametrize("bad", NOT_MADE_BY_MAKE_CURSOR)
def test_cursors_make_cursor_cannot_make_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_cursor(bad)


STORED_IDS = st.one_of(
    st.integers(0, 2**63 - 1).map(str),  # SQLite rowids
    st.binary(min_size=16, max_size=16).map(bytes.hex),  # Firestore document ids
)
TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(5138, 1, 1), timezones=st.just(UTC))


@given(when=TIMES, message_id=STORED_IDS)
def test_every_cursor_make_cursor_makes_parses_back(when: datetime, message_id: str) -> None:
    assert parse_cursor(make_cursor(when, message_id)) == (when, message_id)


@given(st.text(alphabet=st.characters(codec=None), max_size=60) | st.from_regex(r"[0-9\u00b2\u0663]{17}-.{0,40}"))
def test_whatever_parse_cursor_accepts_is_exactly_what_make_cursor_makes(text: str) -> None:
    try:
        parsed = parse_cursor(text)
    except ValueError:
        return
    assert make_cursor(*parsed) == text
