"""The back-ends a real server can run on, as the environment ``ChatServer`` gets.

"local+sqlite" is the embedded default and needs nothing; "firebase+firestore"
points the server at the session's Auth and Firestore emulators (cleared for
each test by the ``auth_env`` / ``firestore_env`` fixtures), so every real-server
and browser test reads the same on both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.emulators import PROJECT_ID, Emulator, require_firebase_extra
from tests.support.server import ChatServer

LOCAL = "local+sqlite"
FIREBASE = "firebase+firestore"
BACKENDS = (LOCAL, FIREBASE)
# The Auth emulator accepts any key; a real-looking one keeps the settings checks honest.
FAKE_WEB_API_KEY = "AIzaFakeKeyForTheAuthEmulatorOnly000000"


def firebase_env(auth: Emulator, firestore: Emulator) -> dict[str, str]:
    """What a deployment on Firebase sets, aimed at the emulators."""
    return {
        "CHAT_AUTH": "firebase",
        "CHAT_STORE": "firestore",
        "FIREBASE_AUTH_EMULATOR_HOST": auth.host,
        "FIRESTORE_EMULATOR_HOST": firestore.host,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "FIREBASE_WEB_API_KEY": FAKE_WEB_API_KEY,
    }


def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The env for ``request.param``; the emulators are only started when a Firebase test runs."""
    if request.param == LOCAL:
        return {"CHAT_AUTH": "local", "CHAT_STORE": "sqlite"}
    require_firebase_extra()
    auth = request.getfixturevalue("auth_env")
    firestore = request.getfixturevalue("firestore_env")
    return firebase_env(auth, firestore)


def start_server(data_dir: Path, backend: dict[str, str], **env: str) -> ChatServer:
    """A healthy server on ``backend``, checked to be running on it (not silently on the defaults)."""
    server = ChatServer(data_dir, **backend, **env).start()
    wanted = f"auth={backend['CHAT_AUTH']} store={backend['CHAT_STORE']}"
    assert wanted in server.log(), f"the server is not on {wanted}:\n{server.log()}"
    return server
