"""Password hashing with a bound on how many hashes run at once.

argon2id at production cost takes about 64 MiB and 50-100 ms of a core per hash, so a crowd of
sign-ins (wrong passwords cost the same as right ones) would otherwise queue in the thread pool
without end: the process grows by 64 MiB per hash in flight and every real sign-in waits behind
the crowd. Every hash (sign-up, sign-in, the dummy hash for an unknown email, the rehash) passes
through :class:`PasswordHashing`: at most ``slots`` run at once, the rest wait at most ``wait``
seconds for a slot and are then refused with :class:`HashingBusy` (503 with Retry-After).
The bound is per process: each worker has its own.

Waiters queue in two lines: a sign-in from a browser that has signed in to that account before (a
device cookie; the view says so with :func:`first_in_line`) is served before the crowd, so a flood
of strangers' logins costs the account's owner a hash's time, not the flood's.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quart_chat.auth import AuthError

RETRY_AFTER = 2  # seconds a refused sign-in is told to wait


class HashingBusy(AuthError):
    status = 503
    message = "Too many people are signing in right now. Please try again in a few seconds."
    retry_after = RETRY_AFTER


_FIRST = contextvars.ContextVar("hash_first_in_line", default=False)


@contextmanager
def first_in_line(yes: bool = True) -> Iterator[None]:
    """Hashes in this context (this request) wait in the priority line."""
    token = _FIRST.set(yes)
    try:
        yield
    finally:
        _FIRST.reset(token)


class Slots:
    """``count`` slots; waiters queue in two lines, the priority line served first, each in order."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._lines: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    def locked(self) -> bool:
        return self._free == 0

    async def acquire(self, first: bool = False) -> None:
        if self._free > 0 and not any(self._lines):
            self._free -= 1
            return
        line = self._lines[0 if first else 1]
        handed = asyncio.get_running_loop().create_future()
        line.append(handed)
        try:
            await handed
        except BaseException:  # cancelled (a timeout): leave the line, or pass on a slot just handed over
            if handed.done() and not handed.cancelled():
                self.release()
            else:
                line.remove(handed)
            raise

    def release(self) -> None:
        for line in self._lines:
            while line:
                handed = line.popleft()
                if not handed.done():
                    handed.set_result(None)
                    return
        self._free += 1


class PasswordHashing:
    """``hash``, ``verify`` and ``needs_rehash`` of an argon2 hasher, each hash in a worker thread, bounded."""

    def __init__(self, hasher: PasswordHasher, slots: int, wait: float) -> None:
        self.hasher = hasher
        self.slots = slots
        self.wait = wait
        self._free = Slots(slots)
        self.refused = 0  # hashes refused for want of a slot (for the tests and the logs)

    async def _run[T](self, fn: Callable[..., T], *args: str) -> T:
        try:
            async with asyncio.timeout(self.wait):
                await self._free.acquire(_FIRST.get())
        except TimeoutError:
            self.refused += 1
            raise HashingBusy() from None
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._free.release()

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored_hash: str, password: str) -> bool:
        """True if the password matches; False for a wrong password or a hash that cannot be read."""
        try:
            return await self._run(self.hasher.verify, stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)
