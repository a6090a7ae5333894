"""``python -m quart_chat`` / ``quart-chat``: serve the app with Hypercorn.

Shutdown order matters for live sockets: on SIGTERM/SIGINT every socket is
first closed with 1012 (service restart, which htmx retries, landing on
another instance), and only then is Hypercorn told to stop.

Hypercorn is patched first (``hypercorn_patches``): every write to a client and every
close waits at most CHAT_SEND_TIMEOUT, a ping unanswered for CHAT_WS_PONG_TIMEOUT drops
its connection, and a closed WebSocket is freed at once rather than when its ping task wakes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace

from hypercorn.asyncio import serve
from hypercorn.config import Config

from quart_chat import hypercorn_patches
from quart_chat.hypercorn_patches import Limits, UnsupportedHypercorn
from quart_chat.logs import configure_logging
from quart_chat.settings import FIELDS, Settings, SettingsError
from quart_chat.supervisor import LISTEN_FD_ENV, supervise

log = logging.getLogger("quart_chat")


# Hypercorn keys our settings fill: always without a Hypercorn file, over the file only when set.
FROM_SETTINGS = (("graceful_timeout", "graceful_timeout"), ("ws_ping_interval", "websocket_ping_interval"))


def hypercorn_config(settings: Settings, env: Mapping[str, str] | None = None) -> Config:
    """Hypercorn's config: built-in defaults < CHAT_HYPERCORN_CONFIG file < CHAT_* variables that are set."""
    env = os.environ if env is None else env
    path = settings.hypercorn_config
    config = Config.from_toml(path) if path else Config()
    for field, key in FROM_SETTINGS:
        if not path or FIELDS[field].given(env):
            setattr(config, key, getattr(settings, field))
    # The bind always follows CHAT_HOST and CHAT_PORT/PORT (Beanstalk sets PORT), unless a
    # supervising parent handed this worker its listening socket.
    host = settings.host
    config.bind = [f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"]
    if env.get(LISTEN_FD_ENV):
        config.bind = [f"fd://{int(env[LISTEN_FD_ENV])}"]
    # Frames above our own limit get a clear error from the app; Hypercorn's cap is a backstop,
    # closing with 1009 (and bounding how far a compressed message is inflated: deflate.ChatDeflate).
    config.websocket_max_message_size = max(settings.max_frame_bytes * 4, 1 << 20)
    # Logger objects, so Hypercorn's lines go through our handler (plain or JSON) exactly once.
    config.accesslog = logging.getLogger("hypercorn.access")
    config.errorlog = logging.getLogger("hypercorn.error")
    hypercorn_patches.set_limits(config, Limits(send_timeout=settings.send_timeout,
                                                pong_timeout=settings.ws_pong_timeout))
    return config


def effective_settings(settings: Settings, config: Config) -> Settings:
    """Settings the app should see once Hypercorn's file has been applied (one truth for both)."""
    return replace(settings, graceful_timeout=float(config.graceful_timeout),
                   ws_ping_interval=float(config.websocket_ping_interval or settings.ws_ping_interval))


async def _serve(settings: Settings) -> None:
    from quart_chat.app import create_app
    from quart_chat.web.context import app_services_of

    hypercorn_patches.apply()
    config = hypercorn_config(settings)
    settings = effective_settings(settings, config)
    app = create_app(settings)
    services = app_services_of(app)
    dropped = services.metrics.connections_dropped
    limits = hypercorn_patches.limits_of(config)
    hypercorn_patches.set_limits(config, replace(limits, on_drop=lambda reason: dropped.labels(reason).inc()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        await stop.wait()
        loop.call_later(settings.graceful_timeout, cut_off)
        log.info("stopping: closing %d live sockets with 1012", len(services.connections))
        # Sockets close at once; the drain wait is short so drain + graceful stays under
        # Docker's 10 s stop timeout.
        await services.drain(timeout=min(2.0, settings.graceful_timeout))

    # Open the services here, on the serving loop, rather than first in the app's lifespan
    # start-up: there Quart logs a failure with a traceback and Hypercorn re-raises it as its
    # own LifespanFailureError, so a SettingsError from open() could not end in one sentence.
    # The lifespan's open() is then a no-op; its after_serving still closes them.
    await services.open()
    log.info(
        "starting on http://%s:%d (auth=%s store=%s hub=%s data=%s)",
        settings.host, settings.port, settings.auth, settings.store, settings.hub, settings.data_dir,
    )
    serving = asyncio.ensure_future(serve(app, config, shutdown_trigger=shutdown_trigger))
    cut = False

    def cut_off() -> None:
        nonlocal cut
        if not serving.done():
            cut = True
            serving.cancel()

    try:
        await serving
    except asyncio.CancelledError:
        if not cut:
            raise
        # Hypercorn waits (in asyncio's Server.wait_closed) without a limit for every client to
        # finish closing; a frozen tab that never answers our close would keep this process
        # alive past the stop timeout. Close the services ourselves and leave without waiting
        # for such peers again in asyncio's own teardown.
        log.warning("stopping: clients still connected after %g s; cutting them off", settings.graceful_timeout)
        try:
            await services.close()
        finally:
            log.info("stopped")
            logging.shutdown()
            os._exit(0)
    finally:
        await services.close()  # a no-op when the lifespan already closed them
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
    if settings.workers > 1:
        raise SystemExit(supervise(settings))
    try:
        asyncio.run(_serve(settings))
    except (SettingsError, UnsupportedHypercorn) as exc:
        print(f"quart-chat: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
