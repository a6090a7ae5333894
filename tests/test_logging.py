"""Logs: one line per event that matters, JSON with CHAT_LOG_JSON=1, never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.http_user import RemoteUser, collect_rows, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.server


async def test_json_lines_cover_start_connect_disconnect_stop_and_hold_no_secret(tmp_path: Path) -> None:
    server = ChatServer(tmp_path / "data", CHAT_LOG_JSON="1").start()
    try:
        ada = await RemoteUser(server.base, "ada@example.com", password="hunter2-secret").sign_up()
        cookie_value = next(iter(ada.http.cookies.jar)).value
        async with ada.socket() as ws:
            await ws.recv()
            await say(ws, "logged?")
            await collect_rows(ws, 1)
        await ada.close()
        assert server.stop() == 0
    finally:
        server.kill()
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    messages = [e["message"] for e in entries]
    for event in ("starting on", "signed up", "connect uid=", "disconnect uid=", "stopping", "stopped"):
        assert any(event in m for m in messages), event
    text = server.log()
    assert "hunter2-secret" not in text and cookie_value not in text and "logged?" not in text
