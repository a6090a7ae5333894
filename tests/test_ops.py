"""The operator's view: metrics that move with the traffic, health that follows the store."""

import json
import re

import pytest
from quart import Quart
from quart.testing import QuartClient

from quart_chat.web.context import app_services_of
from quart_chat.web.metrics_access import is_internal
from tests.conftest import User


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def metrics_text(client: QuartClient) -> str:
    response = await client.get("/metrics", scope_base={"client": ("127.0.0.1", 50000)})  # served to loopback
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return await response.get_data(as_text=True)


async def test_metrics_count_connections_messages_and_refusals(app: Quart, ada: User, bob: User) -> None:
    before = await metrics_text(ada.client)
    assert sample(before, "chat_connections_open") == 0
    async with ada.socket() as a, bob.socket() as b:
        await a.receive_within()
        await b.receive_within()
        during = await metrics_text(ada.client)
        assert sample(during, "chat_connections_open") == 2
        await a.send(json.dumps({"message": "counted"}))
        for ws in (a, b):
            frame = ""
            while "counted" not in frame:
                frame = await ws.receive_within()
        await a.send("{broken")
        assert "could not be read" in await a.receive_within()
    async with ada.socket(origin="http://evil.example") as refused:
        await refused.closed_with()
    after = await metrics_text(ada.client)
    assert sample(after, "chat_messages_received_total") == 1
    assert sample(after, "chat_messages_stored_total") == 1
    assert sample(after, "chat_messages_delivered_total") == 2
    assert sample(after, "chat_messages_refused_total", '{reason="invalid"}') == 1
    assert sample(after, "chat_connections_refused_total", '{reason="origin"}') == 1
    assert sample(after, "chat_send_to_deliver_seconds_count") == 2
    assert sample(after, "chat_store_latency_seconds_count", '{operation="add"}') == 1
    assert sample(after, "chat_connections_open") == 0


async def test_readyz_follows_the_store(client: QuartClient, app: Quart) -> None:
    assert (await client.get("/readyz")).status_code == 200
    await app_services_of(app).store.close()
    response = await client.get("/readyz")
    assert response.status_code == 503 and (await response.get_json())["status"] == "not ready"


# Who may read /metrics without a token (web/metrics_access.py); tests/test_metrics_access.py has the real server.
@pytest.mark.parametrize(
    ("peer", "chain", "hops", "internal"),
    [
        ("127.0.0.1", [], 0, True),
        ("::1", [], 0, True),
        ("10.0.0.5", [], 0, True),
        ("192.168.1.20", [], 0, True),
        ("fd00::1", [], 0, True),
        ("8.8.8.8", [], 0, False),
        (None, [], 0, False),  # no address at all (a Unix socket): nothing proven
        ("127.0.0.1", ["10.0.0.1"], 0, False),  # a header from a hop nobody trusts
        ("172.17.0.1", ["10.0.0.9"], 1, True),
        ("172.17.0.1", ["8.8.8.8"], 1, False),
        ("172.17.0.1", ["8.8.8.8", "172.31.0.2"], 1, False),
        ("172.17.0.1", ["8.8.8.8", "172.31.0.2"], 2, False),  # the browser, even when both hops are trusted
        ("172.17.0.1", ["10.0.0.8", "172.31.0.2"], 2, True),
        ("8.8.8.8", ["10.0.0.9"], 1, False),  # a forged header straight to an exposed port
        ("127.0.0.1", ["[::1]:443"], 1, True),
        ("127.0.0.1", ["10.0.0.1:8080"], 1, True),
        ("127.0.0.1", ["::ffff:8.8.8.8"], 1, False),
        ("127.0.0.1", [""], 1, False),
    ],
)
def test_the_rule(peer: str | None, chain: list[str], hops: int, internal: bool) -> None:
    assert is_internal(peer, chain, hops) is internal
