"""When to try Redis again: exponential back-off with jitter.

Doubling from :data:`BACKOFF_MIN` up to :data:`BACKOFF_MAX` keeps a down Redis from being
hammered by every instance at once, while a short blip is retried almost at once; the jitter
(±:data:`BACKOFF_JITTER`) spreads the instances out so they do not all reconnect in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BACKOFF_MIN = 0.1  # seconds before the first retry
BACKOFF_MAX = 5.0  # seconds, the longest wait between two attempts
BACKOFF_JITTER = 0.3  # each wait is scaled by a random factor in [1 - jitter, 1 + jitter]


class Backoff:
    """Counts the failed attempts in a row and says how long to wait before the next one."""

    def __init__(
        self,
        low: float = BACKOFF_MIN,
        high: float = BACKOFF_MAX,
        jitter: float = BACKOFF_JITTER,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.low = low
        self.high = high
        self.jitter = jitter
        self._uniform = uniform
        self.attempt = 0  # failures in a row; a link that worked and then broke counts as one

    def failed(self) -> None:
        self.attempt += 1

    def succeeded(self) -> None:
        self.attempt = 0

    def delay(self) -> float:
        """Seconds to wait now: ``low`` after the first failure, doubling per failure up to ``high``."""
        base = min(self.high, self.low * 2 ** max(self.attempt - 1, 0))
        return base * self._uniform(1 - self.jitter, 1 + self.jitter)
