"""Password hashing with a bound on how many hashes run at once.

argon2id at production cost takes about 64 MiB and 50-100 ms of a core per hash, so a crowd of
sign-ins (wrong passwords cost the same as right ones) would otherwise queue in the thread pool
without end: the process grows by 64 MiB per hash in flight and every real sign-in waits behind
the crowd. Every hash (sign-up, sign-in, the dummy hash for an unknown email, the rehash) passes
through :class:`PasswordHashing`: at most ``slots`` run at once, the rest wait at most ``wait``
seconds for a slot and are then refused with :class:`HashingBusy` (503 with Retry-After).
The bound is per process: each worker has its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quart_chat.auth import AuthError

RETRY_AFTER = 2  # seconds a refused sign-in is told to wait


class HashingBusy(AuthError):
    status = 503
    message = "Too many people are signing in right now. Please try again in a few seconds."
    retry_after = RETRY_AFTER


class PasswordHashing:
    """``hash``, ``verify`` and ``needs_rehash`` of an argon2 hasher, each hash in a worker thread, bounded."""

    def __init__(self, hasher: PasswordHasher, slots: int, wait: float) -> None:
        self.hasher = hasher
        self.slots = slots
        self.wait = wait
        self._free = asyncio.Semaphore(slots)
        self.refused = 0  # hashes refused for want of a slot (for the tests and the logs)

    async def _run[T](self, fn: Callable[..., T], *args: str) -> T:
        try:
            async with asyncio.timeout(self.wait):
                await self._free.acquire()
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
