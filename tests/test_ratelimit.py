from quart_chat.ratelimit import TokenBucket


class FakeClock:
    """The bucket's clock is injected; here it is moved by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_then_refilled_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(per_minute=60, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert 0.9 <= bucket.retry_after() <= 1.0
    clock.now += 1.0
    assert bucket.take() is True
    assert bucket.take() is False


def test_refill_never_exceeds_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(per_minute=600, burst=2, clock=clock)
    clock.now += 3600
    assert [bucket.take() for _ in range(3)] == [True, True, False]
