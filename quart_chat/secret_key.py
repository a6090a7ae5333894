"""The session-signing key: from CHAT_SECRET_KEY, or generated once into the data folder.

Several processes sharing one data folder must agree on the key, so creation
uses O_EXCL: exactly one process writes it and the others read what it wrote.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from quart_chat.settings import SettingsError

FILE_NAME = "secret_key"


def load_or_create(data_dir: Path) -> str:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"CHAT_DATA_DIR cannot be used for the secret key: {exc}.") from None
    path = data_dir / FILE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be between create and write
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
