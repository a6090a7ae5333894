"""The socket reader's decisions without a socket (issue 12, finding 5): budgets, answers, hang-ups."""

from __future__ import annotations

import json

from quart_chat.limits import Rate
from quart_chat.live_reader import Answer, Drop, FrameReader, Hangup, Notice, Post
from quart_chat.rendering import Renderer

RENDERER = Renderer()
MESSAGES = Rate(60, 60.0, 10)  # the default per-person message rate, also the typing notices'


def reader(frames_per_minute: int = 300) -> FrameReader:
    return FrameReader(
        renderer=RENDERER, max_chars=2000, max_bytes=65536, frames_per_minute=frames_per_minute,
        notice_rate=MESSAGES, now=0.0,
    )  # fmt: skip


def message(text: str, client_id: str | None = None) -> str:
    return json.dumps({"message": text, "client_id": client_id, "headers": {"HX-Request": "true"}})


def typing(draft: str = "hel") -> str:
    return json.dumps({"message": draft, "typing": "1", "headers": {}})


def test_a_message_is_a_post_and_an_empty_send_is_dropped_quietly() -> None:
    r = reader()
    assert r.received(message("  hi  "), 0.0) == Post("hi", None)
    assert r.received(message("   "), 0.1) == Drop()


def test_repeated_bad_frames_are_answered_once_then_closed_1008() -> None:
    r = reader()
    actions = [r.received("{bad", i * 0.01) for i in range(12)]
    assert isinstance(actions[0], Answer) and "could not be read" in actions[0].fragment
    assert all(a == Drop("invalid") for a in actions[1:10])  # the same mistake is not answered again
    hangup = actions[10]
    assert isinstance(hangup, Hangup) and hangup.closing.code == 1008
    assert hangup.closing.reason == "too many bad frames" and "Reload" in hangup.closing.fragment


def test_a_good_frame_between_makes_the_next_bad_one_answered_again() -> None:
    r = reader()
    assert isinstance(r.received("{bad", 0.0), Answer)
    assert r.received(message(""), 0.1) == Drop()
    assert isinstance(r.received("[1]", 0.2), Answer)


def test_every_frame_spends_the_budget_before_it_is_parsed_and_a_flood_is_closed() -> None:
    r = reader(frames_per_minute=300)  # a burst of 30
    frames = [typing()] * 10 + [message("")] * 10 + ["{bad"] * 5 + [message("hi")] * 5 + [message("")]
    actions = [r.received(frame, 0.0) for frame in frames]
    assert not any(isinstance(a, Hangup) for a in actions[:30])
    assert isinstance(actions[30], Hangup) and actions[30].closing.reason == "too many frames"
    assert actions[30].closing.code == 1008


def test_frames_larger_than_the_limit_cost_one_frame_and_a_clear_answer() -> None:
    r = reader()
    answer = r.received("x" * 70_000, 0.0)
    assert isinstance(answer, Answer) and "too long" in answer.fragment


def test_typing_notices_past_their_rate_are_dropped_quietly_and_late_ones_after_a_send_too() -> None:
    r = reader()
    notices = [r.received(typing(), i * 0.01) for i in range(12)]
    assert notices[:10] == [Notice("typing")] * 10 and notices[10:] == [Drop("typing_rate_limited")] * 2
    fresh = reader()
    assert fresh.received(typing(""), 0.0) == Notice("stopped")
    client_id = "c" * 22
    fresh.sent(client_id)
    late = json.dumps({"message": "hel", "typing": "1", "client_id": client_id})
    assert fresh.received(late, 0.1) == Drop()


def test_the_composer_at_its_fastest_for_ten_minutes_never_nears_the_budget() -> None:
    """Our own form: a message every second (faster than anyone types) and a typing notice every 2 s."""
    r = reader()
    now = 0.0
    for second in range(600):
        now = float(second)
        assert isinstance(r.received(message(f"m{second}"), now), Post)
        if second % 2 == 0:
            assert isinstance(r.received(typing(), now + 0.5), Notice | Drop)
    # and still a burst of room left: 20 frames at once right now are all fine
    assert not any(isinstance(r.received(message(""), now + 0.9), Hangup) for _ in range(20))


def test_too_fast_answers_with_the_wait() -> None:
    answer = reader().too_fast(2.2)
    assert answer.reason == "rate_limited" and "Try again in 3 s" in answer.fragment


# -- issue 10: a refused message comes back in the composer, with its reason beside it ------------------


def composing_reader() -> FrameReader:
    return FrameReader(
        renderer=RENDERER, max_chars=2000, max_bytes=65536, frames_per_minute=300, notice_rate=MESSAGES, now=0.0,
        composer=lambda text, error: f"<composer text={text!r} error={error!r}>",
    )  # fmt: skip


def test_a_refused_message_gives_the_composer_back_with_its_text() -> None:
    r = composing_reader()
    too_long = r.received(message("y" * 2001), 0.0)
    assert isinstance(too_long, Answer) and too_long.reason == "invalid"
    error = "Message too long: 2001 characters, the limit is 2000. Your message is kept."
    assert too_long.fragment == f"<composer text={'y' * 2001!r} error={error!r}>"
    fast = r.too_fast(2.2, "kept")
    assert fast.reason == "rate_limited" and fast.fragment.startswith("<composer text='kept' error='Not sent: You are")
    assert "Try again in 3 s" in fast.fragment
    not_text = composing_reader().received("{bad", 1.0)  # not a message at all: the reason alone
    assert isinstance(not_text, Answer) and not_text.fragment.startswith('<hx-partial hx-target="#composer-error"')
