"""Local accounts: the identity contract on a real SQLite file, plus what is local-only."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quart_chat.auth.local import LocalIdentity
from tests.contracts.identity_contract import IdentityContract, new_email


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[LocalIdentity]:
    provider = LocalIdentity(tmp_path / "accounts.sqlite3")
    await provider.open()
    yield provider
    await provider.close()


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
        first = LocalIdentity(tmp_path / "a.sqlite3")
        await first.open()
        signed = await first.sign_up(new_email(), "correct horse")
        await first.close()
        second = LocalIdentity(tmp_path / "a.sqlite3")
        await second.open()
        try:
            assert await second.verify(signed.token) == signed.identity
            assert (await second.sign_in(signed.identity.email, "correct horse")).identity == signed.identity
        finally:
            await second.close()

    async def test_sign_out_ends_only_that_session(self, identity: LocalIdentity) -> None:
        email = new_email()
        laptop = await identity.sign_up(email, "correct horse")
        phone = await identity.sign_in(email, "correct horse")
        await identity.sign_out(laptop.token)
        assert await identity.verify(laptop.token) is None
        assert await identity.verify(phone.token) == phone.identity
