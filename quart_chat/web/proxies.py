"""Trusting the proxies in front of the app: the browser's address and scheme from X-Forwarded-*.

Hypercorn's ``ProxyFixMiddleware`` does the reading (the ``trusted_hops``-th entry from the end of
each header, "legacy" X-Forwarded-* mode). It also sets a WebSocket's scheme to the header's
value, ``https``, where ASGI (and Quart's routing) expect ``wss``: the handshake then fails with
400 (pgjones/hypercorn issue 198, open; uvicorn fixed the same in its proxy-headers middleware).
:class:`TrustedProxies` puts a WebSocket's scheme back into ws/wss after it.
"""

from __future__ import annotations

from typing import Any

from hypercorn.middleware import ProxyFixMiddleware

WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


class TrustedProxies:
    def __init__(self, app: Any, hops: int) -> None:
        self.app = app
        self._fix = ProxyFixMiddleware(self._forward, mode="legacy", trusted_hops=hops)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._fix(scope, receive, send)

    async def _forward(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope.get("scheme") in WEBSOCKET_SCHEMES:
            scope = {**scope, "scheme": WEBSOCKET_SCHEMES[scope["scheme"]]}
        await self.app(scope, receive, send)
