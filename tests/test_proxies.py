"""Trusted proxies in process: the browser's address and scheme, for pages and WebSockets alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from quart import Quart

from quart_chat.app import create_app
from quart_chat.limits.accounts import address_key
from tests.conftest import make_client


@pytest.fixture
async def behind_two(settings) -> AsyncIterator[Quart]:
    app = create_app(replace(settings, trusted_proxies=2))
    async with app.test_app():
        yield app


async def test_a_websocket_behind_a_tls_proxy_keeps_a_websocket_scheme(behind_two: Quart) -> None:
    """Hypercorn's ProxyFixMiddleware alone would make it "https" and the handshake a 400."""
    client = make_client(behind_two)
    headers = {
        "Origin": "https://localhost",  # the page was served over HTTPS
        "X-Forwarded-Proto": "https, http",  # the ALB's, then nginx's
        "X-Forwarded-For": "203.0.113.7, 10.0.0.5",
    }
    async with client.websocket("/rooms/general/ws", headers=headers) as ws:
        said = await ws.receive_any_within()
        closed = await ws.closed_with()
    assert closed.code == 1008 and "You are signed out." in said  # past the Origin check: https was seen


def test_addresses_are_keyed_as_one_client_has_them() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    assert address_key(None) == "unknown" and address_key("<local>") == "<local>"
