"""``python -m quart_chat`` / ``quart-chat``: serve the app with Hypercorn.

Shutdown order matters for live sockets: on SIGTERM/SIGINT every socket is
first closed with 1012 (service restart, which htmx retries, landing on
another instance), and only then is Hypercorn told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

from quart_chat.logs import configure_logging
from quart_chat.settings import Settings, SettingsError

log = logging.getLogger("quart_chat")


def hypercorn_config(settings: Settings) -> Config:
    path = os.environ.get("CHAT_HYPERCORN_CONFIG")
    config = Config.from_toml(path) if path else Config()
    config.bind = [f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"]
    config.websocket_ping_interval = settings.ws_ping_interval
    config.graceful_timeout = settings.graceful_timeout
    config.websocket_max_message_size = max(settings.max_frame_bytes * 4, 1 << 20)
    if not path:
        # Logger objects, so Hypercorn's lines go through our handler (plain or JSON) once.
        config.accesslog = logging.getLogger("hypercorn.access")
        config.errorlog = logging.getLogger("hypercorn.error")
    return config


async def _serve(settings: Settings) -> None:
    from quart_chat.app import create_app

    app = create_app(settings)
    services = app.extensions["chat"]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("stopping: closing %d live sockets with 1012", len(services.connections))
        await services.drain(timeout=min(5.0, settings.graceful_timeout))

    log.info(
        "starting on http://%s:%d (auth=%s store=%s hub=%s data=%s)",
        settings.host, settings.port, settings.auth, settings.store, settings.hub, settings.data_dir,
    )
    await serve(app, hypercorn_config(settings), shutdown_trigger=shutdown_trigger)
    log.info("stopped")


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"quart-chat: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(json_lines=settings.log_json)
    if settings.workers > 1 and settings.hub == "memory":
        print("quart-chat: CHAT_WORKERS > 1 needs CHAT_HUB=redis (the memory hub is one process).", file=sys.stderr)
        raise SystemExit(2)
    try:
        asyncio.run(_serve(settings))
    except SettingsError as exc:
        print(f"quart-chat: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
