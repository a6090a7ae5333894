"""Issue 12, finding 10: /metrics is the operator's, against a real server (and behind a real nginx).

Without CHAT_METRICS_TOKEN it answers loopback and private networks only, judged on the whole
forwarding path: X-Forwarded-For from a hop the server does not trust, or a public address in it,
is refused, so behind Beanstalk's nginx and load balancer (where every request arrives from a
private address) the internet still is. With the token set, everyone must send it. A refusal is a
403 with a reason and no metrics.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.docker_engine import REPO
from tests.support.nginx import running_nginx
from tests.support.server import ChatServer

pytestmark = pytest.mark.server

TOKEN = "metrics-token-" + "s3cr3t" * 4
PUBLIC = "8.8.8.8"  # a browser on the internet (Python counts TEST-NET ranges as private)


def served(response: httpx.Response) -> bool:
    if response.status_code == 200:
        assert "chat_connections_open" in response.text
        return True
    assert response.status_code == 403, response.status_code
    assert "chat_" not in response.text and response.text.startswith("Forbidden")
    return False


def metrics(base: str, forwarded_for: str | None = None, token: str | None = None) -> httpx.Response:
    headers = {}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{base}/metrics", headers=headers, timeout=10)


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    servers: list[ChatServer] = []

    def start(port: int | None = None, **env: str) -> ChatServer:
        server = ChatServer(tmp_path / f"data-{len(servers)}", port, **env)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


def test_by_default_loopback_is_served_and_forwarded_requests_are_not(start) -> None:
    server = start()
    assert served(metrics(server.base))
    # Nobody was said to be a proxy (CHAT_TRUSTED_PROXIES=0): any X-Forwarded-For is the client's word.
    assert not served(metrics(server.base, forwarded_for="127.0.0.1"))
    assert not served(metrics(server.base, forwarded_for=PUBLIC))


def test_with_one_trusted_proxy_the_forwarded_client_decides(start) -> None:
    server = start(CHAT_TRUSTED_PROXIES="1")
    assert served(metrics(server.base, forwarded_for="10.1.2.3"))  # a scraper in the VPC, via nginx
    assert served(metrics(server.base))  # straight to the app, from loopback
    assert not served(metrics(server.base, forwarded_for=PUBLIC))
    assert not served(metrics(server.base, forwarded_for=f"{PUBLIC}, 10.0.0.2"))  # browser, load balancer
    assert not served(metrics(server.base, forwarded_for="10.0.0.7, 10.0.0.2"))  # a private address spoofed
    assert not served(metrics(server.base, forwarded_for="unknown"))


def test_behind_beanstalks_nginx_the_internet_is_refused(start, tmp_path: Path) -> None:
    """The real .platform/nginx config in front, CHAT_TRUSTED_PROXIES as .ebextensions sets it."""
    config = (REPO / ".ebextensions" / "02-environment.config").read_text()
    hops = re.search(r"CHAT_TRUSTED_PROXIES: '(\d+)'", config).group(1)
    server = start(CHAT_TRUSTED_PROXIES=hops)
    with running_nginx(tmp_path / "nginx", upstream=server.port) as (listen, _):
        via_nginx = f"http://127.0.0.1:{listen}"
        assert served(metrics(via_nginx))  # from the instance itself (a sidecar, the CloudWatch agent)
        # What the load balancer passes on for a browser: the browser's own address.
        assert not served(metrics(via_nginx, forwarded_for=PUBLIC))
        # A client's own private-looking entries come on top of what the trusted hops add.
        assert not served(metrics(via_nginx, forwarded_for=", ".join(["10.0.0.7"] * int(hops))))


def test_a_token_is_asked_of_everyone_and_enough_from_anywhere(start) -> None:
    server = start(CHAT_METRICS_TOKEN=TOKEN, CHAT_TRUSTED_PROXIES="1")
    assert not served(metrics(server.base))  # loopback too
    assert not served(metrics(server.base, token=TOKEN[:-1]))
    assert not served(metrics(server.base, token=TOKEN + "x"))
    assert not served(httpx.get(f"{server.base}/metrics", headers={"Authorization": f"Basic {TOKEN}"}))
    assert served(metrics(server.base, token=TOKEN))
    assert served(metrics(server.base, forwarded_for=PUBLIC, token=TOKEN))
    assert "quart-chat: " not in server.log() and TOKEN not in server.log()  # started; the token never logged


def test_a_short_token_stops_start_up_with_one_sentence(start) -> None:
    with pytest.raises(RuntimeError) as failed:
        start(CHAT_METRICS_TOKEN="short")
    assert "quart-chat: CHAT_METRICS_TOKEN must be at least 16 printable ASCII characters" in str(failed.value)
