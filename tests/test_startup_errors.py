"""Issue 12, finding 9: a data folder or file that cannot be used stops start-up with one sentence.

Each case runs the real ``quart-chat`` command and expects what a bad setting gets: exit status 2
and one line on stderr naming the file and what to do, never a traceback.

Root (as CI runs) ignores mode bits, so "read-only" and "unreadable" are made two ways that hold
for root too: the process is started without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
(``setpriv --bounding-set``), so a folder's 0555 or a file's 0000 binds it as it would bind any
other user; and, as root, the data folder is also bind-mounted read-only in a private mount
namespace (``unshare --mount``), as a read-only volume would be. Unprivileged, plain mode bits do.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.server import ROOT
from tests.support.tools import require_binary

pytestmark = pytest.mark.server

IS_ROOT = os.geteuid() == 0
KEY = {"CHAT_SECRET_KEY": "k" * 48}  # to reach the SQLite files past the key file
QUART_CHAT = Path(sys.executable).parent / "quart-chat"  # the console script pip installed


def quart_chat_command(wrap: Sequence[str] = ()) -> list[str]:
    command = [str(QUART_CHAT)] if QUART_CHAT.exists() else [sys.executable, "-m", "quart_chat"]
    if IS_ROOT:  # let mode bits bind root as they bind everyone (see the module's docstring)
        require_binary("setpriv", "util-linux")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    return [*wrap, *command]


def environment(data: Path, port: int = 1, **env: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "CHAT_SECRET_KEY"}
    return {**environ, "CHAT_DATA_DIR": str(data), "CHAT_PORT": str(port), "CHAT_HOST": "127.0.0.1", **env}


def run_quart_chat(data: Path, env: dict[str, str] | None = None, wrap: Sequence[str] = ()):
    """The command run to its end on ``data``: its CompletedProcess."""
    return subprocess.run(
        quart_chat_command(wrap), cwd=ROOT, env=environment(data, **(env or {})), capture_output=True, text=True,
        timeout=60,
    )


def one_sentence(run: subprocess.CompletedProcess, *naming: str) -> str:
    """The run's one line of output, checked: exit 2, no traceback, naming each of ``naming``."""
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and run.stdout == "", run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    line = lines[0]
    assert line.startswith("quart-chat: ") and line.endswith("."), line
    for part in naming:
        assert part in line, (part, line)
    return line


def read_only_mount(folder: Path) -> list[str]:
    """A command prefix that runs the rest with ``folder`` read-only (root only: a private mount namespace)."""
    require_binary("unshare", "util-linux")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"',
            str(folder)]


HOW_READ_ONLY = ["mode 0555"] + (["read-only mount"] if IS_ROOT else [])


@pytest.mark.parametrize("how", HOW_READ_ONLY)
@pytest.mark.parametrize("key", ["generated", "from the environment"])
def test_a_read_only_data_folder(tmp_path: Path, how: str, key: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    wrap: list[str] = []
    if how == "mode 0555":
        data.chmod(0o555)
    else:
        wrap = read_only_mount(data)
    run = run_quart_chat(data, KEY if key == "from the environment" else None, wrap)
    data.chmod(0o755)
    if key == "generated":  # the key file is the first thing written
        one_sentence(run, str(data / "secret_key"), "cannot be created", "writable", "CHAT_SECRET_KEY")
    else:  # then the first SQLite file, and why: its folder
        why = "is not writable by this user" if how == "mode 0555" else "is on a read-only file system"
        one_sentence(run, str(data / "chat.sqlite3"), "cannot be opened", f"CHAT_DATA_DIR ({data}) {why}")


def sqlite_file(path: Path, version: int | None = None) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (?)", (version or 0,))


@pytest.mark.parametrize("name", ["chat.sqlite3", "people.sqlite3", "accounts.sqlite3"])
def test_a_corrupt_database_file(tmp_path: Path, name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).write_bytes(b"this is not SQLite " * 300)
    one_sentence(run_quart_chat(data, KEY), str(data / name), "not a usable SQLite database", "backup")


def test_an_unreadable_database_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sqlite_file(data / "chat.sqlite3")
    (data / "chat.sqlite3").chmod(0o000)
    one_sentence(run_quart_chat(data, KEY), str(data / "chat.sqlite3"), "cannot be opened", "read and write")


def test_a_read_only_database_file_in_a_writable_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sqlite_file(data / "people.sqlite3")
    (data / "people.sqlite3").chmod(0o444)
    one_sentence(run_quart_chat(data, KEY), str(data / "people.sqlite3"))


def test_a_database_from_a_newer_version(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    sqlite_file(data / "chat.sqlite3", version=99)
    one_sentence(run_quart_chat(data, KEY), str(data / "chat.sqlite3"), "newer quart-chat", "schema version 99")


def test_an_empty_secret_key_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("\n")
    one_sentence(run_quart_chat(data), str(data / "secret_key"), "is empty", "delete it", "CHAT_SECRET_KEY")


def test_an_unreadable_secret_key_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "secret_key").write_text("a key\n")
    (data / "secret_key").chmod(0o000)
    one_sentence(run_quart_chat(data), str(data / "secret_key"), "cannot be read", "CHAT_SECRET_KEY")


def test_a_file_where_the_data_folder_should_be(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder")
    one_sentence(run_quart_chat(data), "CHAT_DATA_DIR", str(data), "cannot be a folder")
    one_sentence(run_quart_chat(data, KEY), "CHAT_DATA_DIR", str(data), "cannot be a folder")


def test_the_same_command_starts_on_a_usable_folder(tmp_path: Path) -> None:
    """The control: run the same way (without the override capabilities, as root), a usable folder
    serves and stops cleanly, so each refusal above is the folder's or the file's doing."""
    data, port = tmp_path / "data", free_port()
    server = subprocess.Popen(quart_chat_command(), cwd=ROOT, env=environment(data, port), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=20)
    assert server.returncode == 0 and b"Traceback" not in stderr
