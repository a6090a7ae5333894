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

    Each kind is a subclass that sets its HTTP ``status``, ``message`` and ``field``; one the user
    must wait out also says for how long (``retry_after``, seconds: the Retry-After header).
    """

    status = 400
    message = "That did not work. Please try again."
    field: str | None = None
    retry_after: int | None = None

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class EmailTaken(AuthError):
    """Sign-up for an address that has an account, with another password than the account's.

    Worded so it does not confirm that the address is registered (OWASP's advice on account
    enumeration): the same words would fit any sign-up that did not go through. With the right
    password a sign-up signs the person in instead (they proved the address is theirs).
    """

    status = 400
    message = "We could not sign you up with that email and password. Have an account? Log in."


class InvalidCredentials(AuthError):
    status = 401
    message = "Wrong email or password."  # one message for unknown email and wrong password: never say which


class WeakPassword(AuthError):
    field = "password"

    def __init__(self, minimum: int = MIN_PASSWORD_LENGTH) -> None:
        super().__init__(f"Choose a password of at least {minimum} characters.")


class TooManyAttempts(AuthError):
    """Throttled: ours (the same words whether or not the account exists) or Firebase's own."""

    status = 429
    retry_after = 60

    def __init__(self, retry_after: int | None = None) -> None:
        if retry_after is not None:
            self.retry_after = retry_after
        unit = "second" if self.retry_after == 1 else "seconds"
        super().__init__(f"Too many attempts. Wait {self.retry_after} {unit} and try again.")


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
    existing: bool = False  # a sign-up that signed in to the account the address already had


class IdentityProvider(Protocol):
    """Sign-up, sign-in, session verification and sign-out."""

    #: Does :meth:`sign_out` end every session of the person, not only the one signed out? (Firebase
    #: revokes all of a user's refresh tokens, so every session cookie fails its next revocation
    #: check.) The web layer then closes every socket of theirs, on every instance, at once.
    sign_out_ends_all: bool

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
        """End the session the token stands for (and all of the user's when ``sign_out_ends_all``)."""
        ...

