"""What the benchmarks' command lines share: numbers with bounds, so a typo cannot start a run for hours."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def within(low: float, high: float, kind: Callable[[str], float] = int) -> Callable[[str], float]:
    """An argparse ``type``: a number of ``kind`` from ``low`` to ``high``, else a usage error."""

    def parse(text: str) -> float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    parse.__name__ = getattr(kind, "__name__", "number")  # argparse names it in "invalid int value"
    return parse
