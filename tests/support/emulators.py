"""The real Firebase emulators as pytest fixtures: started once, cleared per test, stopped by pid.

- Auth: the Firebase CLI's Auth emulator, from the repo's ``node_modules``
  (``npm ci --ignore-scripts``; see ``.ci/install-firebase.sh``).
- Firestore: the Cloud Firestore emulator JAR from the Debian package
  ``google-cloud-cli-firestore-emulator``, run with Java 17.

Both listen on free ports on 127.0.0.1 and are started in their own process
group (``start_new_session=True``), so stopping them kills the whole group --
the Firebase CLI spawns children -- by its id, never by name. With ``CI=true``
a missing emulator fails the run; elsewhere those tests skip and say why.

The fixtures are made available to every test by ``tests/conftest.py``, so each
emulator starts at most once per run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.net import free_port
from tests.support.tools import in_ci

if TYPE_CHECKING:  # the Firebase code is imported only after require_firebase_extra()
    from quart_chat.firestore_client import FirestoreComponent

PROJECT_ID = "demo-quart-chat"
ROOT = Path(__file__).resolve().parents[2]
FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"
FIRESTORE_JARS = (
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    "/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
)
AUTH_START_LIMIT = 90.0
FIRESTORE_START_LIMIT = 60.0
STOP_LIMIT = 10.0
STARTUP_TIMES: dict[str, float] = {}


def unavailable(reason: str) -> None:
    """Fail loudly in CI (a green run must not hide a missing emulator), skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: run .ci/install-firebase.sh)", pytrace=False)
    pytest.skip(f"{reason}; run .ci/install-firebase.sh to enable these tests")


def require_firebase_extra() -> None:
    """Call at the top of a test module, before importing the Firebase code."""
    import importlib.util

    missing = [m for m in ("firebase_admin", "pyrebase") if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (pip install -e '.[firebase]')"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)


@dataclass
class Emulator:
    name: str
    host: str  # "127.0.0.1:port", the form the *_EMULATOR_HOST variables take
    process: subprocess.Popen[bytes]
    log: Path
    startup_seconds: float

    def request(self, method: str, path: str) -> int:
        req = urllib.request.Request(f"http://{self.host}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the process group we started (its id is the leader's pid), TERM then KILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_LIMIT)
    # Children (the CLI's node workers, java) may outlive the leader: finish the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_LIMIT)


def start(
    name: str,
    cmd: list[str],
    env: dict[str, str],
    host: str,
    ready: Callable[[str], bool],
    limit: float,
    log: Path,
) -> Emulator:
    began = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = began + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop(process)
            pytest.fail(
                f"the {name} emulator exited with {process.returncode}:\n{_log_tail(log)}", pytrace=False
            )
        if ready(host):
            took = time.monotonic() - began
            STARTUP_TIMES[name] = took
            return Emulator(name, host, process, log, took)
        time.sleep(0.2)
    stop(process)
    pytest.fail(f"the {name} emulator was not ready within {limit:.0f} s:\n{_log_tail(log)}", pytrace=False)
    raise AssertionError("unreachable")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start_auth_emulator(workdir: Path) -> Emulator:
    if not FIREBASE_BIN.exists():
        unavailable(f"the Firebase CLI is not installed ({FIREBASE_BIN.relative_to(ROOT)} is missing)")
    if shutil.which("node") is None:
        unavailable("node is not installed, so the Firebase Auth emulator cannot run")
    port, hub, logging_port = free_port(), free_port(), free_port()
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": port},
            "hub": {"host": "127.0.0.1", "port": hub},
            "logging": {"host": "127.0.0.1", "port": logging_port},
            "ui": {"enabled": False},
            "singleProjectMode": True,
        }
    }
    (workdir / "firebase.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "CI": "true",
        "NO_UPDATE_NOTIFIER": "1",
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "XDG_CACHE_HOME": str(workdir / "cache"),
        "TMPDIR": str(workdir),  # the CLI writes its hub locator file there
    }
    cmd = [
        str(FIREBASE_BIN),
        "emulators:start",
        "--only",
        "auth",
        "--project",
        PROJECT_ID,
        "--config",
        str(workdir / "firebase.json"),
    ]
    host = f"127.0.0.1:{port}"
    return start(
        "auth", cmd, env, host, lambda h: _http_ok(f"http://{h}/"), AUTH_START_LIMIT, workdir / "auth.log"
    )


def firestore_jar() -> str | None:
    override = os.environ.get("FIRESTORE_EMULATOR_JAR")
    for candidate in ([override] if override else []) + list(FIRESTORE_JARS):
        if Path(candidate).is_file():
            return candidate
    return None


def start_firestore_emulator(workdir: Path) -> Emulator:
    jar = firestore_jar()
    if jar is None:
        unavailable(
            "the Cloud Firestore emulator JAR is missing (Debian package google-cloud-cli-firestore-emulator)"
        )
    java = shutil.which("java")
    if java is None:
        unavailable(
            "java is not installed, so the Cloud Firestore emulator cannot run (openjdk-17-jre-headless)"
        )
    port = free_port()
    host = f"127.0.0.1:{port}"
    cmd = [
        java,
        "-cp",
        str(jar),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--project_id={PROJECT_ID}",
        f"--rules={ROOT / 'firestore.rules'}",
    ]
    return start(
        "firestore",
        cmd,
        dict(os.environ),
        host,
        lambda h: _http_ok(f"http://{h}/"),
        FIRESTORE_START_LIMIT,
        workdir / "firestore.log",
    )


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_auth_emulator(tmp_path_factory.mktemp("auth-emulator"))
    yield emulator
    stop(emulator.process)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_firestore_emulator(tmp_path_factory.mktemp("firestore-emulator"))
    yield emulator
    stop(emulator.process)


@pytest.fixture
def auth_env(auth_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """No accounts, and FIREBASE_AUTH_EMULATOR_HOST set for this test only."""
    status = auth_emulator.request("DELETE", f"/emulator/v1/projects/{PROJECT_ID}/accounts")
    assert status == 200, f"clearing the Auth emulator answered {status}"
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", auth_emulator.host)
    return auth_emulator


@pytest.fixture
def firestore_env(firestore_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """No documents, and FIRESTORE_EMULATOR_HOST set for this test only."""
    status = firestore_emulator.request(
        "DELETE", f"/emulator/v1/projects/{PROJECT_ID}/databases/(default)/documents"
    )
    assert status == 200, f"clearing the Firestore emulator answered {status}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    return firestore_emulator


@contextlib.asynccontextmanager
async def opened_on_emulator[T: FirestoreComponent](kind: type[T], timeout: float = 5.0) -> AsyncIterator[T]:
    """A Firestore store of ``kind`` (the message or the profile store) for the demo project, open for
    the block and closed after it. It talks to whatever FIRESTORE_EMULATOR_HOST names (``firestore_env``
    sets it; a test of failures points it where nothing listens)."""
    component = kind(project_id=PROJECT_ID, credentials_path=None, timeout=timeout)
    await component.open()
    try:
        yield component
    finally:
        await component.close()
