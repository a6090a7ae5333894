"""Local accounts (the embedded default): argon2id hashes and server-side sessions in SQLite.

Hashing runs in a worker thread so a sign-in never stalls the event loop, and at most
``hash_slots`` hashes run at once (:mod:`quart_chat.auth.hashing`). An unknown email still
costs one hash verification, so response time does not tell whether an account exists; so
does a sign-up for a taken address (its password is checked against the account instead of
hashed anew: with the right one, the sign-up signs in). Session tokens are random; only their
SHA-256 is stored, so a leaked database file does not leak live sessions.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher

from quart_chat import sqlite_db
from quart_chat.auth import (
    MIN_PASSWORD_LENGTH,
    AuthUnavailable,
    EmailTaken,
    InvalidCredentials,
    SignedIn,
    WeakPassword,
)
from quart_chat.auth.hashing import PasswordHashing
from quart_chat.models import Identity

MIGRATIONS = (
    """
    CREATE TABLE accounts (
        uid TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created_us INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        uid TEXT NOT NULL REFERENCES accounts (uid) ON DELETE CASCADE,
        expires_us INTEGER NOT NULL
    );
    CREATE INDEX sessions_uid ON sessions (uid)
    """,
)

# argon2id with the library's parameters (RFC 9106's low-memory profile). Module-level so the tests can
# swap in a cheap one: each hash records its own parameters, so a cheap hash still verifies.
PASSWORD_HASHER = PasswordHasher()
HASH_SLOTS = os.process_cpu_count() or 1  # hashes at once: one per usable core (each is CPU-bound, 64 MiB)
HASH_WAIT = 1.0  # seconds a sign-in waits for a free slot before it is told to come back


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LocalIdentity(sqlite_db.SqliteFile):
    MIGRATIONS = MIGRATIONS
    sign_out_ends_all = False  # one session row is deleted; the person's other browsers stay signed in

    def __init__(
        self, path: Path, session_days: int = 5, *, hash_slots: int = HASH_SLOTS, hash_wait: float = HASH_WAIT
    ) -> None:
        super().__init__(path)
        self.session_lifetime = timedelta(days=session_days)
        self.hashing = PasswordHashing(PASSWORD_HASHER, hash_slots, hash_wait)
        self._dummy_hash = PASSWORD_HASHER.hash(secrets.token_hex(16))  # made once, at start-up

    def closed_error(self) -> Exception:
        return AuthUnavailable()

    async def _new_session(self, identity: Identity) -> SignedIn:
        token = secrets.token_urlsafe(32)
        expires = _now_us() + int(self.session_lifetime.total_seconds() * 1_000_000)
        await self.db.execute(
            "INSERT INTO sessions (token_hash, uid, expires_us) VALUES (?, ?, ?)",
            (_token_hash(token), identity.uid, expires),
        )
        return SignedIn(identity, token)

    async def _account(self, email: str) -> tuple[str, str, str] | None:
        """(uid, email, password hash) of the account with this email, or None."""
        async with self.db.execute(
            "SELECT uid, email, password_hash FROM accounts WHERE email = ?", (email,)
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1], row[2]) if row else None

    async def _password_matches(self, account: tuple[str, str, str] | None, password: str) -> bool:
        """One hash verification whether or not the account exists (an unknown one checks the dummy);
        a match at an older cost is rehashed at today's."""
        stored_hash = account[2] if account else self._dummy_hash
        if not await self.hashing.verify(stored_hash, password) or account is None:
            return False
        if self.hashing.needs_rehash(stored_hash):
            new_hash = await self.hashing.hash(password)
            await self.db.execute("UPDATE accounts SET password_hash = ? WHERE uid = ?", (new_hash, account[0]))
        return True

    async def sign_up(self, email: str, password: str) -> SignedIn:
        email = email.strip().lower()
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(MIN_PASSWORD_LENGTH)
        account = await self._account(email)
        if account is not None:  # one hash, as for a new account; the right password proves the address
            if not await self._password_matches(account, password):
                raise EmailTaken()
            return replace(await self._new_session(Identity(account[0], account[1])), existing=True)
        password_hash = await self.hashing.hash(password)
        identity = Identity(uuid.uuid4().hex, email)
        try:
            await self.db.execute(
                "INSERT INTO accounts (uid, email, password_hash, created_us) VALUES (?, ?, ?, ?)",
                (identity.uid, email, password_hash, _now_us()),
            )
        except sqlite3.IntegrityError:  # made by a sign-up racing this one
            raise EmailTaken() from None
        return await self._new_session(identity)

    async def sign_in(self, email: str, password: str) -> SignedIn:
        account = await self._account(email.strip().lower())
        if not await self._password_matches(account, password):
            raise InvalidCredentials()
        assert account is not None
        return await self._new_session(Identity(account[0], account[1]))

    async def verify(self, token: str, *, check_revoked: bool = False) -> Identity | None:
        if not token:
            return None
        async with self.db.execute(
            "SELECT a.uid, a.email FROM sessions s JOIN accounts a ON a.uid = s.uid"
            " WHERE s.token_hash = ? AND s.expires_us > ?",
            (_token_hash(token), _now_us()),
        ) as cur:
            row = await cur.fetchone()
        return Identity(row[0], row[1]) if row else None

    async def accounts(self) -> list[Identity]:
        """Every account, oldest first: to name the accounts made before profiles existed (see services)."""
        rows = await self.db.execute_fetchall("SELECT uid, email FROM accounts ORDER BY created_us, uid")
        return [Identity(uid, email) for uid, email in rows]

    async def sign_out(self, token: str) -> None:
        await self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
        await self.db.execute("DELETE FROM sessions WHERE expires_us <= ?", (_now_us(),))
