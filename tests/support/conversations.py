"""What an attacker of a conversation could learn: people's uids (rows carry them) and, if the server's
secret leaked, the conversation's key. The privacy tests use it to knock on every door with the key."""

from __future__ import annotations

import re
from pathlib import Path

from quart_chat.places import conversation_key, conversation_secret
from quart_chat.secret_key import FILE_NAME

AUTHOR = re.compile(
    r'<li class="msg[^"]*" id="m-[^"]+" data-key="[^"]+" data-author="([^"]+)"[^>]*>.*?<span class="text">(.*?)</span>',
    re.S,
)


def author_of(page: str, text: str) -> str:
    """The uid on the row that says ``text`` (public: every row names its author's uid for /me.css)."""
    for uid, said in AUTHOR.findall(page):
        if said == text:
            return uid
    raise AssertionError(f"no row says {text!r}")


def leaked_key(data_dir: Path, uid_a: str, uid_b: str) -> str:
    """The conversation's key, made from the server's own secret file, as a leak would give it away."""
    secret = (data_dir / FILE_NAME).read_text().strip()
    return conversation_key(conversation_secret(secret), uid_a, uid_b)
