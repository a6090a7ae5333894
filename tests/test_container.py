"""The Docker image as operators run it: built, started, used and stopped for real.

A private dockerd on host networking (tests/support/docker_engine.py) builds the
python:3.13-slim stand-in if it is missing, builds our image with
``--network host`` and runs it with ``--network host`` on a free loopback port.
Then a user signs up, sends a message over a real WebSocket and sees it come back,
and ``docker stop`` must close that socket with 1012 and leave a clean exit (0)
within the graceful timeout.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import secrets
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

import pytest
import websockets
from websockets.asyncio.client import connect

from tests.support.docker_engine import BASE_TAG, REPO, DockerEngine, Timings, require_tools
from tests.support.http_user import csrf_token
from tests.support.net import free_port

pytestmark = pytest.mark.container

IMAGE = "quart-chat:container-test"
# The image's graceful timeout (deploy/hypercorn.toml). A stop must finish inside it: once the
# sockets are closed with 1012 nothing should be left for Hypercorn to wait for, and a stop
# that runs into the timeout is a task left hanging. The test's `docker stop` allows STOP_BUDGET
# (more) before it would SIGKILL, so a slow stop shows up as slow rather than as a kill.
GRACEFUL_TIMEOUT = tomllib.loads((REPO / "deploy" / "hypercorn.toml").read_text())["graceful_timeout"]
STOP_BUDGET = GRACEFUL_TIMEOUT + 5.0


@pytest.fixture(scope="module")
def timings() -> Iterator[Timings]:
    t = Timings()
    yield t
    print(f"\ncontainer timings (s): {json.dumps(t.seconds)}")


@pytest.fixture(scope="module")
def engine(timings: Timings) -> Iterator[DockerEngine]:
    require_tools()
    docker = DockerEngine()
    with timings.measure("dockerd start"):
        docker.start()
    try:
        yield docker
    finally:
        docker.stop()


@pytest.fixture(scope="module")
def image(engine: DockerEngine, timings: Timings) -> str:
    with timings.measure("base image (cached if 0)"):
        engine.ensure_base_image()
    with timings.measure("app image build"):
        log = engine.build(IMAGE)
    assert "Successfully tagged" in log or engine.has_image(IMAGE)
    # The builder stage is left behind untagged by the legacy builder; drop it.
    engine.run("image", "prune", "--force", check=False)
    return IMAGE


@dataclass
class Container:
    engine: DockerEngine
    name: str
    port: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def state(self) -> dict:
        return self.engine.inspect(self.name)["State"]

    def logs(self) -> str:
        result = self.engine.run("logs", "--tail", "60", self.name, check=False)
        return result.stdout + result.stderr


def get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def container(engine: DockerEngine, image: str, timings: Timings) -> Iterator[Container]:
    port = free_port()
    name = f"quart-chat-test-{secrets.token_hex(4)}"
    with timings.measure("container start to /healthz 200"):
        engine.run(
            "run", "--detach", "--name", name, "--network", "host",
            "--env", f"CHAT_PORT={port}", "--env", "CHAT_HOST=127.0.0.1",
            "--stop-timeout", str(int(STOP_BUDGET)),
            image,
        )  # fmt: skip
        box = Container(engine, name, port)
        deadline = time.monotonic() + 60
        while True:
            state = box.state()
            if not state["Running"]:
                pytest.fail(f"container exited ({state['ExitCode']}) before serving:\n{box.logs()}")
            try:
                if get(f"{box.origin}/healthz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz never answered 200 within 60 s:\n{box.logs()}")
            time.sleep(0.25)
    try:
        yield box
    finally:
        engine.run("rm", "--force", "--volumes", name, check=False)


def test_image_is_built_from_the_python_313_base(engine: DockerEngine, image: str) -> None:
    version = engine.run("run", "--rm", "--network", "host", image, "python", "--version").stdout
    assert version.startswith("Python 3.13"), version
    assert engine.has_image(BASE_TAG)


def test_image_runs_unprivileged_with_a_healthcheck_and_no_secrets(engine: DockerEngine, image: str) -> None:
    config = engine.inspect(image)["Config"]
    assert config["User"] not in ("", "0", "root", "0:0")
    assert "8000/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert config["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
    assert config["Cmd"] == ["python", "-m", "quart_chat"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["CHAT_HYPERCORN_CONFIG"] == "/app/deploy/hypercorn.toml"
    assert env["CHAT_DATA_DIR"] == "/data"
    for key in env:
        assert not re.search(r"SECRET|PASSWORD|TOKEN|CREDENTIALS|API_KEY", key), f"{key} baked into the image"
    whoami = engine.run("run", "--rm", "--network", "host", image, "id", "-u").stdout.strip()
    assert whoami != "0"
    owner = engine.run("run", "--rm", "--network", "host", image, "stat", "-c", "%u", "/data").stdout.strip()
    assert owner == whoami, "the data volume must be writable by the app user"


def test_healthz_answers_from_the_container(container: Container) -> None:
    assert get(f"{container.origin}/healthz") == 200


def test_docker_healthcheck_reports_healthy(container: Container) -> None:
    deadline = time.monotonic() + 45  # first probe runs one interval (10 s) after start
    while (status := container.state()["Health"]["Status"]) != "healthy":
        assert status != "unhealthy", container.state()["Health"]["Log"][-1:]
        assert time.monotonic() < deadline, f"still {status!r} after 45 s"
        time.sleep(1)


class Browser:
    """A person at a browser: a cookie jar and the app's own Origin, no redirects followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            return None

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, Message, str]:
        """One request; the headers come back as a case-insensitive ``Message``."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.origin + path, data=data, headers={"Origin": self.origin})
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def sign_up(self, email: str, password: str = "correct horse battery") -> None:  # noqa: S107
        status, _, page = self.request("/signup")
        assert status == 200, page[:500]
        status, headers, body = self.request(
            "/signup", {"email": email, "password": password, "csrf_token": csrf_token(page, "/signup")}
        )
        assert status == 303, (status, body[:500])
        assert "/rooms/" in (headers.get("Location") or ""), dict(headers)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def socket(self, room: str = "general"):  # type: ignore[no-untyped-def]
        ws_url = self.origin.replace("http://", "ws://") + f"/rooms/{room}/ws"
        return connect(
            ws_url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie_header},
            open_timeout=10,
            close_timeout=5,
        )


async def receive_until(ws, needle: str, timeout: float = 10.0) -> str:  # type: ignore[no-untyped-def]
    """Read frames until one contains ``needle``; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.recv()
            text = frame if isinstance(frame, str) else frame.decode()
            if needle in text:
                return text


def send_frame(text: str) -> str:
    """What htmx 4's hx-ws:send puts on the wire for the composer form."""
    return json.dumps({"message": text, "headers": {"HX-Request": "true"}})


async def test_sign_up_and_a_live_message_through_the_container(container: Container) -> None:
    ada = Browser(container.origin)
    ada.sign_up(f"ada-{secrets.token_hex(3)}@example.com")
    bob = Browser(container.origin)
    bob.sign_up(f"bob-{secrets.token_hex(3)}@example.com")
    text = f"hello from the container {secrets.token_hex(4)}"
    async with ada.socket() as ada_ws, bob.socket() as bob_ws:
        await ada_ws.recv()  # the catch-up: sent once the socket is subscribed to the room
        await bob_ws.recv()
        await ada_ws.send(send_frame(text))
        assert text in await receive_until(bob_ws, text)
        assert text in await receive_until(ada_ws, text)


async def test_docker_stop_closes_sockets_with_1012_and_exits_cleanly(
    container: Container, timings: Timings
) -> None:
    """Runs last: it stops the module's container."""
    carol = Browser(container.origin)
    carol.sign_up(f"carol-{secrets.token_hex(3)}@example.com")
    async with carol.socket() as ws:
        await ws.send(send_frame("about to stop"))
        await receive_until(ws, "about to stop")
        started = time.monotonic()
        stop = asyncio.create_task(
            asyncio.to_thread(container.engine.run, "stop", "--time", str(int(STOP_BUDGET)), container.name)
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(STOP_BUDGET):
                while True:
                    await ws.recv()
        await stop
        elapsed = time.monotonic() - started
    timings.seconds["docker stop"] = round(elapsed, 1)
    assert closed.value.rcvd is not None, "the server dropped the socket without a close frame"
    assert closed.value.rcvd.code == 1012, closed.value.rcvd
    state = container.state()
    assert not state["Running"]
    assert state["ExitCode"] == 0, container.logs()
    assert not state["OOMKilled"]
    assert elapsed < GRACEFUL_TIMEOUT, (
        f"took {elapsed:.1f}s to stop: ran into the graceful timeout ({GRACEFUL_TIMEOUT}s), so some task "
        f"outlived its socket:\n{container.logs()}"
    )
