"""One firebase-admin App per provider, configured from settings or the emulator.

Shared by the Firebase identity provider and the Firestore store. Each
provider instance gets its own *named* App (tests make several, and the two
providers may point at different emulators), deleted again on close.
Configuration problems become :class:`SettingsError` with one sentence naming
the variable, never a traceback from deep inside google-auth.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import TypedDict

import firebase_admin
import google.auth.credentials
from firebase_admin import credentials

from quart_chat.settings import FIREBASE_AUTH_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, Setting, Settings, SettingsError

# Declared in quart_chat.settings; read here from os.environ, where the Google libraries read them too.
AUTH_EMULATOR_VAR = FIREBASE_AUTH_EMULATOR_HOST
FIRESTORE_EMULATOR_VAR = FIRESTORE_EMULATOR_HOST


class AdminOptions(TypedDict):
    """What every firebase-admin App here is made from: the project and its service account."""

    project_id: str | None
    credentials_path: str | None
    credentials_json: str | None


def admin_options(settings: Settings) -> AdminOptions:
    """The settings both the identity provider and the store hand to :func:`credential_for`."""
    return AdminOptions(
        project_id=settings.firebase_project_id,
        credentials_path=settings.google_application_credentials,
        credentials_json=settings.firebase_service_account_json,
    )


class EmulatorCredential(credentials.Base):
    """An anonymous credential for the emulators.

    firebase-admin has no anonymous credential class, and without one it falls
    back to Application Default Credentials, which do not exist on a test
    machine. The emulators accept any (or no) credential.
    """

    def get_credential(self) -> google.auth.credentials.Credentials:
        return google.auth.credentials.AnonymousCredentials()


def emulator_host(var: Setting) -> str | None:
    """The ``host:port`` of an emulator from the environment, or None."""
    return var.read(os.environ)


def require(name: str, value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise SettingsError(f"{name} is not set; it is needed for {what}.")
    return value.strip()


def check_project_id(project_id: str | None, what: str) -> str:
    project = require("FIREBASE_PROJECT_ID", project_id, what)
    # Project ids are 6-30 of [a-z0-9-]; anything else cannot be right.
    if not (6 <= len(project) <= 30) or not all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in project):
        raise SettingsError(
            f"FIREBASE_PROJECT_ID must be a Firebase project id like my-chat-1234, not {project!r}."
        )
    return project


def certificate_from_json(text: str) -> credentials.Certificate:
    """The service-account key given as JSON text (FIREBASE_SERVICE_ACCOUNT_JSON, e.g. a Beanstalk secret)."""
    name = "FIREBASE_SERVICE_ACCOUNT_JSON"
    try:
        info = json.loads(text)
    except ValueError:
        raise SettingsError(f"{name} is not JSON (it should hold the service-account key file's contents).") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SettingsError(f"{name} does not hold a service-account key.")
    try:
        return credentials.Certificate(info)
    except ValueError as exc:
        raise SettingsError(f"{name} holds an unusable service-account key ({exc}).") from None


def load_certificate(path: str | None, what: str) -> credentials.Certificate:
    """Read the service-account key, turning every way it can be wrong into one sentence."""
    raw = require("GOOGLE_APPLICATION_CREDENTIALS", path, what)
    file = Path(raw).expanduser()
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS points at {raw}, which does not exist."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS points at {raw}, which cannot be read ({exc})."
        ) from None
    except ValueError:
        raise SettingsError(f"GOOGLE_APPLICATION_CREDENTIALS points at {raw}, which is not JSON.") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS points at {raw}, which is not a service-account key file."
        )
    try:
        return credentials.Certificate(info)
    except ValueError as exc:
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS points at {raw}, an unusable service-account key ({exc})."
        ) from None


def credential_for(
    emulator_var: Setting, credentials_path: str | None, what: str, credentials_json: str | None = None
) -> credentials.Base:
    """The emulator's anonymous credential when its variable is set, else the service account
    (its JSON from FIREBASE_SERVICE_ACCOUNT_JSON when given, or the file GOOGLE_APPLICATION_CREDENTIALS)."""
    if emulator_host(emulator_var):
        return EmulatorCredential()
    if credentials_json:
        return certificate_from_json(credentials_json)
    return load_certificate(credentials_path, what)


def new_app(kind: str, credential: credentials.Base, project_id: str, timeout: float) -> firebase_admin.App:
    """A fresh named App, so several providers (and tests) never share or clash."""
    name = f"quart-chat-{kind}-{uuid.uuid4().hex[:12]}"
    return firebase_admin.initialize_app(
        credential, {"projectId": project_id, "httpTimeout": timeout}, name=name
    )


def delete_app(app: firebase_admin.App | None) -> None:
    if app is None:
        return
    with contextlib.suppress(ValueError):  # already deleted
        firebase_admin.delete_app(app)
