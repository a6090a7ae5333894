"""Who you are: the identity protocol the web layer talks to, and its errors.

Two implementations: ``local`` (argon2id hashes in SQLite, the embedded
default) and ``firebase`` (pyrebase4 sign-in, firebase-admin session cookies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from quart_chat.models import Identity

MIN_PASSWORD_LENGTH = 6


class AuthError(Exception):
    """A sign-up or sign-in the user can fix: ``message`` is safe to show, ``field`` is the input to fix.

    Each kind is a subclass that sets its HTTP ``status``, ``message`` and ``field``.
    """

    status = 400
    message = "That did not work. Please try again."
    field: str | None = None

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class EmailTaken(AuthError):
    status = 409
    message = "That email is already registered. Log in instead?"
    field = "email"


class InvalidCredentials(AuthError):
    status = 401
    message = "Wrong email or password."  # one message for unknown email and wrong password: never say which


class WeakPassword(AuthError):
    field = "password"

    def __init__(self, minimum: int = MIN_PASSWORD_LENGTH) -> None:
        super().__init__(f"Choose a password of at least {minimum} characters.")


class TooManyAttempts(AuthError):
    status = 429
    message = "Too many attempts. Wait a minute and try again."


class AccountDisabled(AuthError):
    status = 403
    message = "This account has been disabled."


class AuthUnavailable(AuthError):
    status = 503
    message = "Sign-in is unavailable right now. Please try again shortly."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The result of a sign-up or sign-in: who, and the token the session keeps."""

    identity: Identity
    token: str


class IdentityProvider(Protocol):
    """Sign-up, sign-in, session verification and sign-out."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def sign_up(self, email: str, password: str) -> SignedIn:
        """Create an account and sign it in; raises :class:`AuthError`."""
        ...

    async def sign_in(self, email: str, password: str) -> SignedIn:
        """Check the password; raises :class:`AuthError`."""
        ...

    async def verify(self, token: str, *, check_revoked: bool = False) -> Identity | None:
        """The identity a session token stands for, or None if it is no longer valid."""
        ...

    async def sign_out(self, token: str) -> None:
        """End the session the token stands for (and, where possible, all of the user's)."""
        ...

