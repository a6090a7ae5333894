"""The operator's view: metrics that move with the traffic, health that follows the store."""

import json
import re

from quart import Quart
from quart.testing import QuartClient

from quart_chat.web.context import app_services_of
from tests.conftest import User


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


async def metrics_text(client: QuartClient) -> str:
    response = await client.get("/metrics")
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
