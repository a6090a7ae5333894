"""Finding external tools: skip with the reason on a user's machine, fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """A tool this test needs is not here: a skip for a user, a failure with CI=true."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed ({hint})")
    return path  # type: ignore[return-value]
