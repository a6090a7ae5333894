"""Open a store or identity provider for a test and close it afterwards, pass or fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class Opens(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...


@asynccontextmanager
async def opened[R: Opens](resource: R) -> AsyncIterator[R]:
    await resource.open()
    try:
        yield resource
    finally:
        await resource.close()
