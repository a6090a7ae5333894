"""The identity contract against the real Firebase Auth emulator, plus Firebase-only behaviour."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.emulators import require_firebase_extra

require_firebase_extra()
pytestmark = pytest.mark.firebase

import requests  # noqa: E402
from firebase_admin import auth as admin_auth  # noqa: E402

from quart_chat.auth import (  # noqa: E402
    AccountDisabled,
    AuthUnavailable,
    EmailTaken,
    InvalidCredentials,
    TooManyAttempts,
    pyrebase_emulator,
)
from quart_chat.auth.firebase import FirebaseIdentity, InvalidEmail, _auth_error  # noqa: E402
from quart_chat.settings import Settings, SettingsError  # noqa: E402
from tests.contracts.identity_contract import IdentityContract, new_email  # noqa: E402
from tests.support.emulators import PROJECT_ID, Emulator  # noqa: E402
from tests.support.net import free_port  # noqa: E402


def make_identity() -> FirebaseIdentity:
    return FirebaseIdentity(web_api_key=None, project_id=PROJECT_ID, credentials_path=None, timeout=5.0)


@pytest.fixture
async def identity(auth_env: Emulator) -> AsyncIterator[FirebaseIdentity]:
    provider = make_identity()
    await provider.open()
    yield provider
    await provider.close()


class TestFirebaseIdentity(IdentityContract):
    async def test_revoked_user_is_not_verified_when_revocation_is_checked(
        self, identity: FirebaseIdentity
    ) -> None:
        signed = await identity.sign_up(new_email(), "correct horse")
        # Firebase keeps revocation times in whole seconds: revoke in a later second than the sign-up.
        await asyncio.sleep(1 - time.time() % 1 + 0.01)
        await asyncio.to_thread(admin_auth.revoke_refresh_tokens, signed.identity.uid, app=identity.app)
        assert await identity.verify(signed.token) == signed.identity  # the cheap check cannot know
        assert await identity.verify(signed.token, check_revoked=True) is None

    async def test_disabled_user_cannot_sign_in_and_is_not_verified(self, identity: FirebaseIdentity) -> None:
        email = new_email()
        signed = await identity.sign_up(email, "correct horse")
        await asyncio.to_thread(admin_auth.update_user, signed.identity.uid, disabled=True, app=identity.app)
        with pytest.raises(AccountDisabled):
            await identity.sign_in(email, "correct horse")
        assert await identity.verify(signed.token, check_revoked=True) is None

    async def test_session_cookie_is_the_token_and_email_is_lower_case(
        self, identity: FirebaseIdentity
    ) -> None:
        email = new_email()
        signed = await identity.sign_up(email.upper(), "correct horse")
        assert signed.identity.email == email
        claims = await asyncio.to_thread(admin_auth.verify_session_cookie, signed.token, app=identity.app)
        assert claims["uid"] == signed.identity.uid

    async def test_a_bad_email_is_a_form_error(self, identity: FirebaseIdentity) -> None:
        with pytest.raises(InvalidEmail):
            await identity.sign_up("not-an-email", "correct horse")
        with pytest.raises(InvalidEmail):  # passes the local check, refused by Firebase
            await identity.sign_up("a@b@c", "correct horse")

    async def test_sign_out_of_a_garbage_token_is_quiet_and_signs_nobody_out(
        self, identity: FirebaseIdentity
    ) -> None:
        signed = await identity.sign_up(new_email(), "correct horse")
        await identity.sign_out("garbage")
        assert await identity.verify(signed.token, check_revoked=True) == signed.identity


async def test_failed_session_cookie_leaves_no_account_behind(
    auth_env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pyrebase (REST) reaches the emulator, but firebase-admin, whose client is made on its first
    # call and reads the variable then, finds nothing listening: minting the session cookie fails.
    provider = make_identity()
    await provider.open()
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    email = new_email()
    try:
        with pytest.raises(AuthUnavailable):
            await provider.sign_up(email, "correct horse")
    finally:
        await provider.close()
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", auth_env.host)
    checker = make_identity()
    await checker.open()
    try:
        with pytest.raises(InvalidCredentials):  # the half-made account was deleted again
            await checker.sign_in(email, "correct horse")
        await checker.sign_up(email, "correct horse")  # and the email is free
    finally:
        await checker.close()


async def test_unreachable_firebase_is_unavailable_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    provider = FirebaseIdentity(web_api_key=None, project_id=PROJECT_ID, credentials_path=None, timeout=2.0)
    await provider.open()
    try:
        with pytest.raises(AuthUnavailable) as up:
            await provider.sign_up(new_email(), "correct horse")
        assert up.value.status == 503
        with pytest.raises(AuthUnavailable):
            await provider.sign_in(new_email(), "correct horse")
    finally:
        await provider.close()


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    key = "AIza" + "x" * 35
    with pytest.raises(SettingsError, match="FIREBASE_PROJECT_ID"):
        FirebaseIdentity(web_api_key=key, project_id=None, credentials_path="/x.json")
    with pytest.raises(SettingsError, match="FIREBASE_WEB_API_KEY"):
        FirebaseIdentity(web_api_key=None, project_id=PROJECT_ID, credentials_path="/x.json")
    with pytest.raises(SettingsError, match="FIREBASE_WEB_API_KEY"):
        FirebaseIdentity(web_api_key="oops", project_id=PROJECT_ID, credentials_path="/x.json")
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        FirebaseIdentity(web_api_key=key, project_id=PROJECT_ID, credentials_path=None)
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        FirebaseIdentity.from_settings(Settings(firebase_web_api_key=key, firebase_project_id=PROJECT_ID))


def test_emulator_adapter_is_inert_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    url = "https://www.googleapis.com/identitytoolkit/v3/relyingparty/verifyPassword?key=k"
    plain = pyrebase_emulator.make_session(5.0, None)
    assert not isinstance(plain.get_adapter(url), pyrebase_emulator.EmulatorAdapter)
    pyrebase_emulator.install()
    import pyrebase.pyrebase

    shim = pyrebase.pyrebase.requests
    assert shim.HTTPError is requests.HTTPError  # everything else is the real module
    assert pyrebase_emulator._bound.get() is None  # nothing bound: calls go straight to requests
    routed = pyrebase_emulator.make_session(5.0, "127.0.0.1:9099")
    adapter = routed.get_adapter(url)
    assert isinstance(adapter, pyrebase_emulator.EmulatorAdapter)
    assert adapter.rewrite(url) == (
        "http://127.0.0.1:9099/www.googleapis.com/identitytoolkit/v3/relyingparty/verifyPassword?key=k"
    )
    assert adapter.rewrite("https://example.com/x") == "https://example.com/x"


async def test_without_the_emulator_a_real_configuration_is_used_and_nothing_is_rerouted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    key_file = tmp_path / "firebase-adminsdk.json"
    key_file.write_text(json.dumps(fake_service_account()))
    provider = FirebaseIdentity(
        web_api_key="AIza" + "x" * 35, project_id=PROJECT_ID, credentials_path=str(key_file)
    )
    assert provider.emulator_host is None
    await provider.open()  # no network: opening only builds clients
    try:
        url = "https://www.googleapis.com/identitytoolkit/v3/relyingparty/signupNewUser?key=k"
        assert provider._session is not None
        assert not isinstance(provider._session.get_adapter(url), pyrebase_emulator.EmulatorAdapter)
    finally:
        await provider.close()


def fake_service_account() -> dict[str, str]:
    """A syntactically real service-account key (fresh RSA key, unknown to Google): parsed, never used."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": "0" * 40,
        "private_key": pem.decode(),
        "client_email": f"firebase-adminsdk@{PROJECT_ID}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("EMAIL_EXISTS", EmailTaken),
        ("INVALID_PASSWORD", InvalidCredentials),
        ("INVALID_LOGIN_CREDENTIALS", InvalidCredentials),
        ("EMAIL_NOT_FOUND", InvalidCredentials),
        ("TOO_MANY_ATTEMPTS_TRY_LATER : Access temporarily disabled", TooManyAttempts),
        ("USER_DISABLED", AccountDisabled),
        ("API key not valid. Please pass a valid API key.", AuthUnavailable),
        ("SOMETHING_NEW", AuthUnavailable),
    ],
)
def test_firebase_error_codes_become_form_errors(code: str, error: type) -> None:
    # The emulator cannot be made to rate-limit, so the mapping is also checked on Firebase's own
    # response body shape (a pure function; no mock of any service).
    body = json.dumps({"error": {"code": 400, "message": code, "errors": []}})
    assert isinstance(_auth_error(requests.HTTPError(requests.HTTPError("400"), body)), error)
    assert isinstance(_auth_error(requests.ConnectionError("refused")), AuthUnavailable)


def _service_account_json() -> str:
    """A well-formed service-account key made here (a fresh RSA key; it opens no real project)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": "0" * 40,
            "private_key": pem,
            "client_email": f"chat@{PROJECT_ID}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def test_service_account_json_in_the_environment_is_used_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beanstalk passes secrets as variables: the key's JSON itself may stand in for the file path."""
    from quart_chat.store.firestore import FirestoreStore

    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    key = "AIza" + "x" * 35
    good = Settings.from_env(
        {"FIREBASE_WEB_API_KEY": key, "FIREBASE_PROJECT_ID": PROJECT_ID,
         "FIREBASE_SERVICE_ACCOUNT_JSON": _service_account_json()}
    )
    identity = FirebaseIdentity.from_settings(good)
    assert identity._credential.service_account_email == f"chat@{PROJECT_ID}.iam.gserviceaccount.com"
    assert FirestoreStore.from_settings(good)._credential.project_id == PROJECT_ID
    for bad, says in (("{not json", "is not JSON"), ('{"type": "user"}', "does not hold a service-account key")):
        with pytest.raises(SettingsError, match=f"FIREBASE_SERVICE_ACCOUNT_JSON {says}"):
            FirebaseIdentity.from_settings(replace(good, firebase_service_account_json=bad))
