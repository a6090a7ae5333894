"""Who may read ``/metrics``: a bearer token when one is set, else loopback and private networks only.

Metrics tell an outsider how busy the chat is, who is refused and why, and how the store is doing:
nothing for the internet. ``CHAT_METRICS_TOKEN``, when set, is asked of everyone (``Authorization:
Bearer <token>``, compared in constant time), wherever they are. Unset, a request is served only
when it provably comes from loopback or a private network, judged on the whole path it took, not
just on the address it arrived from: behind Beanstalk's nginx and load balancer *every* request
arrives from a private address.

- The socket's own peer must be loopback or private (recorded by :class:`RecordPeer` before
  Hypercorn's ProxyFixMiddleware replaces it with the forwarded client).
- ``X-Forwarded-For`` may hold no more entries than ``CHAT_TRUSTED_PROXIES`` proxies append: one
  more came from the client or from a proxy we were not told about, and proves nothing (with no
  trusted proxies, any such header refuses). Behind the load balancer and nginx the header is
  "<browser>, <load balancer>", one more than the one trusted hop, so the internet is refused even
  though nginx and the load balancer are private; a scraper inside the VPC that reaches the instance
  through nginx arrives with one entry, its own.
- Every address in it must be loopback or private too.

A refusal is 403 with a short plain-text reason and no metrics: the path is Prometheus's well-known
one, so a 404 would hide nothing, and a 403 tells the operator whose scraper is refused which rule
refused it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from quart.wrappers import Request

PEER_KEY = "quart_chat.peer"  # the ASGI scope key RecordPeer fills: the socket's own (host, port)
NEEDS_TOKEN = "Forbidden: /metrics needs the bearer token set in CHAT_METRICS_TOKEN.\n"  # noqa: S105 (a message)
NOT_INTERNAL = (
    "Forbidden: /metrics is served to loopback and private networks only (or set CHAT_METRICS_TOKEN).\n"
)


class RecordPeer:
    """ASGI middleware, outermost: keeps the socket's peer in the scope before any proxy fix rewrites it."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, PEER_KEY: scope.get("client")}
        await self.app(scope, receive, send)


def _is_private(address: str | None) -> bool:
    if not address:
        return False
    host = address.strip()
    if host.startswith("["):  # "[::1]" or "[::1]:8000"
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # "10.0.0.1:8000"
        host = host.partition(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # "unknown", a name, garbage: nothing proven
        return False
    return ip.is_loopback or ip.is_private


def is_internal(peer: str | None, forwarded_for: Sequence[str], trusted_hops: int) -> bool:
    """Did a request provably come from loopback or a private network? (See the module's rules.)"""
    if len(forwarded_for) > trusted_hops:
        return False
    return _is_private(peer) and all(_is_private(a) for a in forwarded_for)


def forwarded_for(values: Iterable[str]) -> list[str]:
    """Every entry of every ``X-Forwarded-For`` header line, in order."""
    return [entry.strip() for value in values for entry in value.split(",")]


def token_matches(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time (of equal-length digests)."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.strip().encode()).digest(), digest(token.encode()).digest())


def refusal(request: Request, token: str | None, trusted_hops: int) -> str | None:
    """Why ``request`` may not read the metrics, or None when it may."""
    if token is not None:
        return None if token_matches(request.headers.get("Authorization"), token) else NEEDS_TOKEN
    peer = request.scope.get(PEER_KEY, request.scope.get("client"))
    peer_host = peer[0] if peer else None
    chain = forwarded_for(request.headers.getlist("X-Forwarded-For"))
    return None if is_internal(peer_host, chain, trusted_hops) else NOT_INTERNAL
