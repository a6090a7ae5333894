"""Local accounts: the identity contract on a real SQLite file, plus what is local-only."""

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher, extract_parameters, profiles

from quart_chat.auth import InvalidCredentials
from quart_chat.auth.hashing import HashingBusy, Slots
from quart_chat.auth.local import LocalIdentity
from tests.contracts.identity_contract import IdentityContract, new_email
from tests.support.net import until
from tests.support.resources import opened


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[LocalIdentity]:
    async with opened(LocalIdentity(tmp_path / "accounts.sqlite3")) as provider:
        yield provider


class TestLocalIdentity(IdentityContract):
    async def test_passwords_are_stored_as_argon2id_never_plain(
        self, identity: LocalIdentity, tmp_path: Path
    ) -> None:
        await identity.sign_up("ada@example.com", "correct horse")
        with sqlite3.connect(tmp_path / "accounts.sqlite3") as db:
            (stored,) = db.execute("SELECT password_hash FROM accounts").fetchone()
            sessions = [r[0] for r in db.execute("SELECT token_hash FROM sessions")]
        assert stored.startswith("$argon2id$") and "correct horse" not in stored
        assert all(len(h) == 64 for h in sessions)  # sha256 of the token, not the token

    async def test_accounts_and_sessions_survive_a_restart(self, tmp_path: Path) -> None:
        async with opened(LocalIdentity(tmp_path / "a.sqlite3")) as first:
            signed = await first.sign_up(new_email(), "correct horse")
        async with opened(LocalIdentity(tmp_path / "a.sqlite3")) as second:
            assert await second.verify(signed.token) == signed.identity
            assert (await second.sign_in(signed.identity.email, "correct horse")).identity == signed.identity

    async def test_sign_out_ends_only_that_session(self, identity: LocalIdentity) -> None:
        email = new_email()
        laptop = await identity.sign_up(email, "correct horse")
        phone = await identity.sign_in(email, "correct horse")
        await identity.sign_out(laptop.token)
        assert await identity.verify(laptop.token) is None
        assert await identity.verify(phone.token) == phone.identity


async def test_production_hashes_passwords_at_rfc_9106_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite hashes cheaply (tests/support/cheap_hashing.py); a stored hash from production's hasher must carry
    argon2id at RFC 9106's low-memory profile (t=3, 64 MiB, p=4), so the cost cannot silently drop."""
    monkeypatch.undo()  # take back the suite's cheap hasher: this test sees production's
    async with opened(LocalIdentity(tmp_path / "accounts.sqlite3")) as identity:
        await identity.sign_up("ada@example.com", "correct horse")
    with sqlite3.connect(tmp_path / "accounts.sqlite3") as db:
        (stored,) = db.execute("SELECT password_hash FROM accounts").fetchone()
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY


class HeldHasher(PasswordHasher):
    """The suite's cheap argon2id, whose verify waits until the test lets it finish (a hash "in flight")."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.finish = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.finish.wait(10)
        return super().verify(hash, password)


async def test_hashes_beyond_the_bound_are_refused_with_retry_after_not_queued(tmp_path: Path) -> None:
    """Issue 12, finding 1: with one slot and no wait, a sign-in while a hash is in flight gets HashingBusy at once,
    whatever kind of hash it needs (here the dummy hash of an unknown email), instead of queueing behind it."""
    async with opened(LocalIdentity(tmp_path / "a.sqlite3", hash_slots=1, hash_wait=0)) as identity:
        await identity.sign_up("ada@example.com", "correct horse")
        held = identity.hashing.hasher = HeldHasher()
        first = asyncio.create_task(identity.sign_in("ada@example.com", "correct horse"))
        await until(lambda: identity.hashing._free.locked(), what="the first hash in flight")
        crowd = await asyncio.gather(
            *(identity.sign_in(f"nobody-{i}@example.com", "guess") for i in range(7)), return_exceptions=True
        )
        assert all(isinstance(r, HashingBusy) for r in crowd) and identity.hashing.refused == 7
        assert crowd[0].status == 503 and crowd[0].retry_after
        held.finish.set()
        assert (await first).identity.email == "ada@example.com"  # the one in flight was not disturbed
        with pytest.raises(InvalidCredentials):  # and a slot is free again
            await identity.sign_in("nobody@example.com", "guess")


async def test_the_priority_line_is_served_before_the_crowd_and_a_timed_out_waiter_leaves_no_trace() -> None:
    """A returning browser (device cookie) waits in the first line: the owner is not queued behind a flood."""
    slots = Slots(1)
    await slots.acquire()
    order: list[str] = []

    async def waiter(name: str, first: bool) -> None:
        await slots.acquire(first)
        order.append(name)
        slots.release()

    crowd = [asyncio.create_task(waiter(f"stranger {i}", False)) for i in range(3)]
    with pytest.raises(TimeoutError):  # one who gave up waiting
        async with asyncio.timeout(0.01):
            await slots.acquire()
    owner = asyncio.create_task(waiter("owner", True))
    await asyncio.sleep(0)
    slots.release()
    await asyncio.gather(*crowd, owner)
    assert order == ["owner", "stranger 0", "stranger 1", "stranger 2"]
    assert not slots.locked()  # every slot back, none lost to the one who timed out
    await slots.acquire()
    assert slots.locked()
