"""The session-signing key: from CHAT_SECRET_KEY, or generated once into the data folder.

Several processes sharing one data folder must agree on the key, so creation
uses O_EXCL: exactly one process writes it and the others read what it wrote.
A key file that cannot be made, read or used stops start-up with one sentence
(:class:`SettingsError`) naming the file and what to do, as a bad setting does.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from quart_chat.settings import SettingsError

FILE_NAME = "secret_key"
OR_SET_IT = "or set CHAT_SECRET_KEY"


def load_or_create(data_dir: Path) -> str:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"CHAT_DATA_DIR cannot be used for the secret key: {data_dir.absolute()} cannot be a folder "
            f"({exc.strerror}); point CHAT_DATA_DIR at a folder this user can write, {OR_SET_IT}."
        ) from None
    path = data_dir / FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as exc:  # a read-only folder, or not ours
        raise SettingsError(
            f"{path.absolute()} cannot be created ({exc.strerror}); make CHAT_DATA_DIR writable by this user, "
            f"{OR_SET_IT}."
        ) from None
    key = secrets.token_urlsafe(48)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    except OSError as exc:  # a full disk: leave no empty key file behind to stop the next start
        path.unlink(missing_ok=True)
        raise SettingsError(f"{path.absolute()} could not be written ({exc.strerror}); {OR_SET_IT}.") from None
    return key


def _read(path: Path) -> str:
    """The key another process (or an earlier start) wrote; it may be between create and write."""
    for _ in range(50):
        try:
            key = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not text"
            raise SettingsError(
                f"{path.absolute()} cannot be read ({why}); make it readable by this user, or delete it to "
                f"generate a new key (which signs everyone out), {OR_SET_IT}."
            ) from None
        if key:
            return key
        time.sleep(0.02)
    raise SettingsError(
        f"{path.absolute()} is empty; delete it to generate a new key (which signs everyone out), {OR_SET_IT}."
    )
