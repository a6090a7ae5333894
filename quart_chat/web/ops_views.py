"""Operator endpoints: liveness, readiness and metrics (the last for the operator alone: metrics_access)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Blueprint, Response, current_app, jsonify, request
from quart.typing import ResponseReturnValue

from quart_chat.store import StoreError
from quart_chat.web import metrics_access
from quart_chat.web.context import app_services

bp = Blueprint("ops", __name__)


async def _checks() -> dict[str, str]:
    services = app_services()
    checks = {"store": "ok", "hub": "ok" if services.hub.healthy else "degraded"}
    try:
        await services.store.ping()
    except StoreError:
        checks["store"] = "unreachable"
    return checks


@bp.get("/healthz")
async def healthz() -> ResponseReturnValue:
    """200 while the app can serve (store reachable); a degraded hub is reported, not fatal."""
    checks = await _checks()
    status = 200 if checks["store"] == "ok" else 503
    return jsonify(status="ok" if status == 200 else "unavailable", **checks), status


@bp.get("/readyz")
async def readyz() -> ResponseReturnValue:
    """200 only when the store and the hub are both reachable (take traffic)."""
    checks = await _checks()
    ready = checks["store"] == "ok" and checks["hub"] == "ok"
    return jsonify(status="ready" if ready else "not ready", **checks), 200 if ready else 503


@bp.get("/metrics")
async def metrics() -> ResponseReturnValue:
    """Prometheus text format: connections, message flow, slow consumers, latencies; 403 for outsiders."""
    services = app_services()
    settings = services.settings
    refused = metrics_access.refusal(request, settings.metrics_token, settings.trusted_proxies)
    if refused is not None:
        current_app.logger.info("refused /metrics to %s", request.remote_addr)
        return Response(refused, status=403, content_type="text/plain; charset=utf-8")
    return Response(generate_latest(services.metrics.registry), content_type=CONTENT_TYPE_LATEST)


@bp.get("/favicon.ico")
async def favicon() -> ResponseReturnValue:
    return await current_app.send_static_file("favicon.svg")
