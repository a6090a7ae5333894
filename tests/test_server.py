"""A real Hypercorn server with real WebSocket clients: chat, restart, shutdown, refusals."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.backends import start_server
from tests.support.emulators import require_firebase_extra
from tests.support.http_user import RemoteUser, closed_with, collect_rows, rows, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path: Path, backend: dict[str, str]):
    srv = start_server(tmp_path / "data", backend)
    yield srv
    srv.kill()


@pytest.fixture
async def ada(server: ChatServer) -> AsyncIterator[RemoteUser]:
    """A user signed up on the real server (closed after the test, pass or fail)."""
    user = await RemoteUser(server.base, "ada@example.com").sign_up()
    yield user
    await user.close()


@pytest.fixture
async def bob(server: ChatServer) -> AsyncIterator[RemoteUser]:
    user = await RemoteUser(server.base, "bob@example.com").sign_up()
    yield user
    await user.close()


async def test_two_users_chat_live_in_order_once(ada: RemoteUser, bob: RemoteUser) -> None:
    async with ada.socket() as a, bob.socket() as b:
        await a.recv()
        await b.recv()
        for i in range(5):
            await say(a, f"ada {i}")
            await say(b, f"bob {i}")
        got_a = await collect_rows(a, 10)
        got_b = await collect_rows(b, 10)
    for got in (got_a, got_b):
        assert len(got) == 10  # each row once
        assert sorted(t for _, t in got) == sorted([f"ada {i}" for i in range(5)] + [f"bob {i}" for i in range(5)])
    assert [mid for mid, _ in got_a] == [mid for mid, _ in got_b]  # the same order on both sockets


async def test_messages_and_accounts_survive_a_restart(server: ChatServer, ada: RemoteUser) -> None:
    async with ada.socket() as a:
        await a.recv()
        for text in ("first", "second"):
            await say(a, text)
        await collect_rows(a, 2)
    assert server.stop() == 0
    server.start()
    page = await ada.http.get("/rooms/general")  # the same session cookie still works
    assert page.status_code == 200
    assert page.text.index("first") < page.text.index("second")
    again = await RemoteUser(server.base, "ada@example.com").log_in()
    async with again.socket(after="00000000000000000-0") as a:
        assert [t for _, t in rows(await a.recv())] == ["first", "second"]
    await again.close()


async def test_sigterm_closes_live_sockets_with_1012_and_exits_cleanly(server: ChatServer, ada: RemoteUser) -> None:
    async with ada.socket() as a:
        await a.recv()
        loop = asyncio.get_running_loop()
        stopping = loop.run_in_executor(None, server.stop)
        code, _ = await closed_with(a, within=10)
        assert code == 1012
        assert await stopping == 0


async def test_refusals_use_1008_so_htmx_stops_retrying(server: ChatServer, ada: RemoteUser) -> None:
    stranger = RemoteUser(server.base, "nobody@example.com")
    async with stranger.socket() as ws:
        code, _ = await closed_with(ws, within=5)
    assert code == 1008
    async with ada.socket(origin="http://evil.example") as ws:
        assert await closed_with(ws, within=5) == (1008, "")  # closed before anything is sent
    await stranger.close()


async def test_an_oversize_frame_gets_an_error_and_the_socket_stays_usable(ada: RemoteUser) -> None:
    async with ada.socket() as a:
        await a.recv()
        await say(a, "y" * 100_000)  # over CHAT_MAX_FRAME_BYTES (64 KiB)
        async with asyncio.timeout(5):
            frame = await a.recv()
            while "composer-error" not in frame:
                frame = await a.recv()
        assert "Message too long" in frame
        await say(a, "still here")
        assert [t for _, t in await collect_rows(a, 1)] == ["still here"]


async def test_setting_errors_stop_start_up_with_one_sentence(tmp_path: Path) -> None:
    srv = ChatServer(tmp_path / "data", CHAT_AUTH="ldap")
    with pytest.raises(RuntimeError) as failed:
        srv.start(timeout=10)
    assert "quart-chat: CHAT_AUTH must be one of local, firebase, not 'ldap'." in str(failed.value)
    assert "Traceback" not in str(failed.value)


def failed_start(srv: ChatServer) -> str:
    """Start a server that must refuse to start; its output."""
    with pytest.raises(RuntimeError) as failed:
        srv.start(timeout=20)
    assert "exited with 2" in str(failed.value)
    return str(failed.value)


NO_EMULATORS = {"FIREBASE_AUTH_EMULATOR_HOST": "", "FIRESTORE_EMULATOR_HOST": ""}


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        (
            {"CHAT_AUTH": "firebase", "FIREBASE_PROJECT_ID": "my-chat-1234", "FIREBASE_WEB_API_KEY": ""},
            "quart-chat: FIREBASE_WEB_API_KEY is not set; it is needed for Firebase sign-in (CHAT_AUTH=firebase).",
        ),
        (
            {"CHAT_STORE": "firestore", "FIREBASE_PROJECT_ID": "", "GOOGLE_CLOUD_PROJECT": ""},
            "quart-chat: FIREBASE_PROJECT_ID is not set; it is needed for the Firestore message store "
            "(CHAT_STORE=firestore).",
        ),
        (
            {
                "CHAT_STORE": "firestore",
                "FIREBASE_PROJECT_ID": "my-chat-1234",
                "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/firebase-adminsdk.json",
            },
            "quart-chat: GOOGLE_APPLICATION_CREDENTIALS points at /nonexistent/firebase-adminsdk.json, "
            "which does not exist.",
        ),
    ],
    ids=["no-web-api-key", "no-project-id", "no-service-account-file"],
)
def test_firebase_misconfiguration_stops_start_up_with_one_sentence(
    tmp_path: Path, env: dict[str, str], sentence: str
) -> None:
    require_firebase_extra()  # with the extra missing, the sentence would be about the extra
    output = failed_start(ChatServer(tmp_path / "data", **NO_EMULATORS, **env))
    assert sentence in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("env", "blocked", "sentence"),
    [
        ({"CHAT_AUTH": "firebase"}, "firebase_admin", "CHAT_AUTH=firebase needs the firebase extra"),
        ({"CHAT_STORE": "firestore"}, "google.cloud.firestore", "CHAT_STORE=firestore needs the firebase extra"),
        ({"CHAT_HUB": "redis"}, "redis", "CHAT_HUB=redis needs the redis extra"),
    ],
)
def test_a_missing_optional_extra_is_one_sentence(
    tmp_path: Path, env: dict[str, str], blocked: str, sentence: str
) -> None:
    """The real entry point, with the package made unimportable (``sys.modules[name] = None`` is how
    Python itself blocks an import), as on an install without the extra."""
    code = f"import sys; sys.modules[{blocked!r}] = None; from quart_chat.__main__ import main; main()"
    run = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **NO_EMULATORS, "CHAT_DATA_DIR": str(tmp_path / "data"), "CHAT_PORT": "1", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    extra = sentence.split(" needs the ")[1].split()[0]
    assert run.returncode == 2
    assert run.stderr.strip() == f"quart-chat: {sentence}: pip install 'quart-chat[{extra}]'."


def test_a_setting_error_while_opening_the_services_is_one_sentence(tmp_path: Path) -> None:
    """The data folder is only touched when the store opens (the secret key comes from the env),
    which used to happen inside Hypercorn's lifespan start-up and end in its traceback."""
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("a file where the data folder should be")
    srv = ChatServer(not_a_folder, CHAT_SECRET_KEY="k" * 40)
    output = failed_start(srv)
    assert "quart-chat: CHAT_DATA_DIR cannot hold chat.sqlite3:" in output
    assert "Traceback" not in output and "LifespanFailureError" not in output
    srv = ChatServer(not_a_folder, CHAT_SECRET_KEY="")  # the key is made in the data folder first
    output = failed_start(srv)
    assert "quart-chat: CHAT_DATA_DIR cannot be used for the secret key:" in output
    assert "Traceback" not in output


async def test_a_client_that_never_answers_the_close_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    """A frozen tab (or a dead network path) never completes the close handshake; asyncio's
    Server.wait_closed() would wait for it without limit. The process must still exit in time."""
    server = ChatServer(tmp_path / "data", CHAT_GRACEFUL_TIMEOUT="4").start()
    try:
        ada = await RemoteUser(server.base, "ada@example.com").sign_up()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /rooms/general/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: {server.base}\r\nCookie: {ada.cookie_header()}\r\n\r\n"
            ).encode()
        )
        assert b" 101 " in (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).split(b"\r\n")[0]
        # From here on this client reads nothing and answers nothing.
        started = time.monotonic()
        assert await asyncio.to_thread(server.stop, 15) == 0
        assert time.monotonic() - started < 4 + 1.5
        writer.close()
        await ada.close()
    finally:
        server.kill()
