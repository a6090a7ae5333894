"""Firebase Authentication: pyrebase4 for email/password, firebase-admin for sessions.

pyrebase4 speaks the public Identity Toolkit REST API (what a browser SDK would
do); firebase-admin, with the service account, turns the resulting ID token
into a *session cookie* that lasts ``session_days`` and can be verified --
and checked for revocation -- on the server alone. That cookie is the token
the web session keeps.

Both libraries block, so every call runs in a worker thread. Every call is
bounded by ``timeout``; anything that is not the user's fault (network,
5xx, a wrong API key) becomes :class:`AuthUnavailable`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import firebase_admin
import google.auth.exceptions
import pyrebase
import requests
from firebase_admin import auth as admin_auth
from firebase_admin import exceptions as admin_errors

from quart_chat import firebase_app
from quart_chat.auth import (
    MIN_PASSWORD_LENGTH,
    AccountDisabled,
    AuthError,
    AuthUnavailable,
    EmailTaken,
    InvalidCredentials,
    SignedIn,
    TooManyAttempts,
    WeakPassword,
    pyrebase_emulator,
)
from quart_chat.models import Identity
from quart_chat.settings import Settings, SettingsError

log = logging.getLogger(__name__)

WHAT = "Firebase sign-in (CHAT_AUTH=firebase)"


class InvalidEmail(AuthError):
    message = "Enter a valid email address."
    field = "email"


def _rest_error_code(exc: requests.HTTPError) -> str:
    """The ``error.message`` code of an Identity Toolkit error, e.g. ``WEAK_PASSWORD``.

    pyrebase re-raises as ``HTTPError(original, response_text)``; codes may carry
    a detail after a colon (``WEAK_PASSWORD : Password should be ...``).
    """
    text = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if not text and exc.response is not None:
        text = exc.response.text
    try:
        message = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return str(message).split(":", 1)[0].strip()


_REST_ERRORS: dict[str, Callable[[], AuthError]] = {
    "EMAIL_EXISTS": EmailTaken,
    "INVALID_PASSWORD": InvalidCredentials,
    "INVALID_LOGIN_CREDENTIALS": InvalidCredentials,
    "EMAIL_NOT_FOUND": InvalidCredentials,
    "WEAK_PASSWORD": WeakPassword,
    "MISSING_PASSWORD": WeakPassword,
    "TOO_MANY_ATTEMPTS_TRY_LATER": TooManyAttempts,
    "USER_DISABLED": AccountDisabled,
    "INVALID_EMAIL": InvalidEmail,
    "MISSING_EMAIL": InvalidEmail,
}


def _auth_error(exc: Exception) -> AuthError:
    """Map a pyrebase/requests failure to the error the form shows."""
    if isinstance(exc, requests.HTTPError):
        code = _rest_error_code(exc)
        if code in _REST_ERRORS:
            return _REST_ERRORS[code]()
        if "API key not valid" in code or code == "API_KEY_INVALID":
            log.error("Firebase refused FIREBASE_WEB_API_KEY: it is not a valid web API key for this project")
        else:
            log.error("Firebase sign-in failed unexpectedly: %s", code or exc)
        return AuthUnavailable()
    log.warning("Firebase is unreachable: %s", exc)
    return AuthUnavailable()


class FirebaseIdentity:
    """The identity provider for ``CHAT_AUTH=firebase``."""

    sign_out_ends_all = True  # revoke_refresh_tokens: every session cookie of the user is revoked

    def __init__(
        self,
        *,
        web_api_key: str | None,
        project_id: str | None,
        credentials_path: str | None,
        credentials_json: str | None = None,
        session_days: int = 5,
        timeout: float = 10.0,
    ) -> None:
        """Check the configuration now, so a bad one stops start-up with one sentence."""
        self.emulator_host = firebase_app.emulator_host(firebase_app.AUTH_EMULATOR_VAR)
        self.project_id = firebase_app.check_project_id(project_id, WHAT)
        if self.emulator_host:
            # The emulator accepts any key; a real project needs the real one.
            self.web_api_key = (web_api_key or "").strip() or "emulator-api-key"
        else:
            self.web_api_key = firebase_app.require("FIREBASE_WEB_API_KEY", web_api_key, WHAT)
            if not self.web_api_key.startswith("AIza") or len(self.web_api_key) < 30:
                raise SettingsError(
                    "FIREBASE_WEB_API_KEY does not look like a Firebase web API key (AIza...)."
                )
        self._credential = firebase_app.credential_for(
            firebase_app.AUTH_EMULATOR_VAR, credentials_path, WHAT, credentials_json
        )
        if not 1 <= session_days <= 14:
            raise SettingsError("CHAT_SESSION_DAYS must be between 1 and 14 for Firebase session cookies.")
        self.session_length = timedelta(days=session_days)
        self.timeout = timeout
        self._app: firebase_admin.App | None = None
        self._firebase: Any = None  # pyrebase.pyrebase.Firebase (untyped)
        self._session: requests.Session | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FirebaseIdentity:
        return cls(
            web_api_key=settings.firebase_web_api_key,
            session_days=settings.session_days,
            **firebase_app.admin_options(settings),
        )

    async def open(self) -> None:
        pyrebase_emulator.install()
        self._session = pyrebase_emulator.make_session(self.timeout, self.emulator_host)
        config = {
            "apiKey": self.web_api_key,
            "authDomain": f"{self.project_id}.firebaseapp.com",
            "databaseURL": "",
            "storageBucket": "",
        }
        self._firebase = pyrebase.initialize_app(config)
        self._app = firebase_app.new_app("auth", self._credential, self.project_id, self.timeout)

    async def close(self) -> None:
        firebase_app.delete_app(self._app)
        self._app = None
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def app(self) -> firebase_admin.App:
        if self._app is None:
            raise AuthUnavailable()
        return self._app

    # -- pyrebase (REST, as the user) -------------------------------------------------------

    async def _rest(self, method: str, *args: str) -> dict[str, Any]:
        """Call a pyrebase Auth method in a thread, through this provider's session."""
        if self._firebase is None or self._session is None:
            raise AuthUnavailable()
        # A fresh pyrebase Auth per call: it keeps the last signed-in user's tokens on itself
        # (current_user), which must not linger in an object shared by every request.
        auth, session = self._firebase.auth(), self._session

        def call() -> dict[str, Any]:
            with pyrebase_emulator.bound(session):
                return getattr(auth, method)(*args)

        try:
            return await asyncio.to_thread(call)
        except (requests.RequestException, OSError) as exc:
            raise _auth_error(exc) from exc

    @staticmethod
    def _check_email(email: str) -> str:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise InvalidEmail()
        return email

    async def sign_up(self, email: str, password: str) -> SignedIn:
        email = self._check_email(email)
        if len(password) < MIN_PASSWORD_LENGTH:  # spare the round trip
            raise WeakPassword(MIN_PASSWORD_LENGTH)
        try:
            result = await self._rest("create_user_with_email_and_password", email, password)
        except EmailTaken:
            # EMAIL_EXISTS: as with local accounts, the account's own password signs in (the person
            # proved the address is theirs); any other is EmailTaken, which does not say "registered".
            try:
                return replace(await self.sign_in(email, password), existing=True)
            except InvalidCredentials:
                raise EmailTaken() from None
        try:
            return await self._session_for(result)
        except BaseException:
            # Nothing half-made: an account nobody can be signed in to is removed again.
            await self._undo_sign_up(result)
            raise

    async def sign_in(self, email: str, password: str) -> SignedIn:
        email = self._check_email(email)
        if len(password) < MIN_PASSWORD_LENGTH:  # no account can have it
            raise InvalidCredentials()
        result = await self._rest("sign_in_with_email_and_password", email, password)
        return await self._session_for(result)

    async def _undo_sign_up(self, result: dict[str, Any]) -> None:
        """Delete the account just made, by its own ID token, else with the admin SDK."""
        try:
            await self._rest("delete_user_account", result["idToken"])
            return
        except AuthError as exc:
            first = exc
        try:
            await self._admin(admin_auth.delete_user, result["localId"])
        except AuthError:
            log.error(
                "could not remove the half-made Firebase account %s (%s); delete it by hand",
                result.get("localId"),
                first.message,
            )

    # -- firebase-admin (server side) -------------------------------------------------------

    async def _admin(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a firebase-admin call in a thread; transport failures become AuthUnavailable."""
        try:
            return await asyncio.to_thread(fn, *args, app=self.app, **kwargs)
        except (
            admin_errors.UnavailableError,
            admin_errors.DeadlineExceededError,
            admin_errors.UnknownError,
            admin_errors.InternalError,
            admin_auth.CertificateFetchError,
            google.auth.exceptions.GoogleAuthError,  # the service account's token could not be refreshed
            requests.RequestException,
        ) as exc:
            log.warning("Firebase Admin is unreachable: %s", exc)
            raise AuthUnavailable() from exc

    async def _session_for(self, result: dict[str, Any]) -> SignedIn:
        try:
            cookie = await self._admin(
                admin_auth.create_session_cookie, result["idToken"], expires_in=self.session_length
            )
        except admin_errors.FirebaseError as exc:
            log.error("Firebase would not mint a session cookie: %s", exc)
            raise AuthUnavailable() from exc
        cookie = cookie.decode() if isinstance(cookie, bytes) else cookie
        return SignedIn(Identity(result["localId"], result["email"].lower()), cookie)

    async def _claims(self, token: str, check_revoked: bool) -> dict[str, Any] | None:
        if not token:
            return None
        try:
            return await self._admin(admin_auth.verify_session_cookie, token, check_revoked=check_revoked)
        except (
            ValueError,
            admin_auth.InvalidSessionCookieError,
            admin_auth.ExpiredSessionCookieError,
            admin_auth.RevokedSessionCookieError,
            admin_auth.UserDisabledError,
            admin_auth.UserNotFoundError,
        ):
            return None

    async def verify(self, token: str, *, check_revoked: bool = False) -> Identity | None:
        """The cookie's identity, None if invalid/expired/revoked/disabled.

        Raises :class:`AuthUnavailable` when Firebase cannot be asked (only
        possible with ``check_revoked`` or on a certificate refresh): "cannot
        tell" is not "signed out".
        """
        claims = await self._claims(token, check_revoked)
        if claims is None or not claims.get("email"):
            return None
        return Identity(str(claims["uid"]), str(claims["email"]).lower())

    async def sign_out(self, token: str) -> None:
        """Revoke all of the user's sessions (refresh tokens and session cookies alike).

        Firebase keeps the revocation time in whole seconds and a cookie issued in
        that same second still passes. Every session must end (``sign_out_ends_all``),
        including one another browser of theirs opened this very second, so the
        revocation must land in a later second than the sign-out began: we revoke
        again once the clock has moved on (half a second on average, at most about one).
        """
        claims = await self._claims(token, check_revoked=False)
        if claims is None:
            return
        uid, issued = str(claims["uid"]), max(int(claims.get("iat", 0)), int(time.time()))
        for _ in range(3):
            await self._admin(admin_auth.revoke_refresh_tokens, uid)
            user = await self._admin(admin_auth.get_user, uid)
            if (user.tokens_valid_after_timestamp or 0) // 1000 > issued:
                return
            await asyncio.sleep(max(0.05, issued + 1 - time.time() + 0.05))
        log.warning("sign-out of %s: Firebase's revocation time did not pass the sign-out's second", uid)
