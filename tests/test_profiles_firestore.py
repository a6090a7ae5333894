"""The profile contract against the real Cloud Firestore emulator, plus Firestore-only checks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from tests.support.emulators import require_firebase_extra

require_firebase_extra()
pytestmark = pytest.mark.firebase

from quart_chat.profiles import ProfileChanges, ProfileError  # noqa: E402
from quart_chat.profiles.firestore import FirestoreProfiles  # noqa: E402
from quart_chat.services import build_profiles  # noqa: E402
from quart_chat.settings import Settings, SettingsError  # noqa: E402
from tests.contracts.profile_contract import ProfileContract  # noqa: E402
from tests.support.emulators import PROJECT_ID, Emulator, opened_on_emulator  # noqa: E402
from tests.support.net import free_port  # noqa: E402


@pytest.fixture
async def profiles(firestore_env: Emulator) -> AsyncIterator[FirestoreProfiles]:
    async with opened_on_emulator(FirestoreProfiles) as p:
        yield p


class TestFirestoreProfiles(ProfileContract):
    async def test_documents_live_at_users_uid_and_handles_handle(self, profiles: FirestoreProfiles) -> None:
        await profiles.ensure("u1", "Ada")
        user = (await profiles.client.document("users/u1").get()).to_dict()
        assert user["handle"] == "ada" and user["display_name"] == "Ada" and "email" not in user
        assert (await profiles.client.document("handles/ada").get()).to_dict() == {"uid": "u1"}
        await profiles.update("u1", ProfileChanges(handle="Lovelace"))
        assert not (await profiles.client.document("handles/ada").get()).exists
        assert (await profiles.client.document("handles/lovelace").get()).to_dict() == {"uid": "u1"}

    async def test_handles_firestore_cannot_hold_are_nobodys(self, profiles: FirestoreProfiles) -> None:
        await profiles.ensure("u1", "Ada")
        assert await profiles.by_handle("a/b") is None and await profiles.by_handle("__ab__") is None

    async def test_rules_deny_clients_users_and_handles(
        self, profiles: FirestoreProfiles, firestore_env: Emulator
    ) -> None:
        """A browser can read neither ``users/`` nor ``handles/``, nor forge either (firestore.rules)."""
        await profiles.ensure("u1", "Ada")
        documents = f"http://{firestore_env.host}/v1/projects/{PROJECT_ID}/databases/(default)/documents"
        for path in ("users", "users/u1", "handles", "handles/ada"):
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(f"{documents}/{path}", timeout=10)
            assert denied.value.code == 403, path
        body = json.dumps({"fields": {"uid": {"stringValue": "eve"}}}).encode()
        for path in ("users?documentId=eve", "handles?documentId=eve"):
            forged = urllib.request.Request(
                f"{documents}/{path}", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(forged, timeout=10)
            assert denied.value.code == 403, path
        assert await profiles.by_handle("eve") is None


async def test_build_profiles_follows_the_message_store(firestore_env: Emulator, tmp_path) -> None:
    chosen = build_profiles(Settings(data_dir=tmp_path, store="firestore", firebase_project_id=PROJECT_ID))
    assert isinstance(chosen, FirestoreProfiles)


async def test_unreachable_firestore_is_a_profile_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    async with opened_on_emulator(FirestoreProfiles, timeout=1.0) as p:
        with pytest.raises(ProfileError):
            await p.get("u1")
        with pytest.raises(ProfileError):
            await p.ensure("u1", "Ada")


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    with pytest.raises(SettingsError, match="FIREBASE_PROJECT_ID"):
        FirestoreProfiles(project_id=None, credentials_path=None)
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        FirestoreProfiles(project_id=PROJECT_ID, credentials_path=None)
