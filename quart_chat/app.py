"""``create_app(settings)``: the Quart app, built fresh each time; nothing happens at import."""

from __future__ import annotations

from datetime import timedelta

from quart import Quart

from quart_chat import secret_key
from quart_chat.services import Services, build_services
from quart_chat.settings import Settings
from quart_chat.web import (
    auth_views,
    chat_views,
    edit_views,
    errors,
    live,
    metrics_access,
    ops_views,
    people_views,
    room_views,
    routing,
    security,
)
from quart_chat.web.context import EXTENSION_KEY
from quart_chat.web.proxies import TrustedProxies


def create_app(settings: Settings | None = None, services: Services | None = None) -> Quart:
    settings = settings or Settings.from_env()
    app = Quart(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secret_key.load_or_create(settings.data_dir),
        SESSION_COOKIE_NAME="quart_chat_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings.session_days),
        MAX_CONTENT_LENGTH=errors.MAX_CONTENT_LENGTH,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions[EXTENSION_KEY] = services or build_services(settings)

    @app.before_serving
    async def open_services() -> None:
        await app.extensions[EXTENSION_KEY].open()

    @app.after_serving
    async def close_services() -> None:
        await app.extensions[EXTENSION_KEY].close()

    security.install(app)
    errors.install(app)
    routing.install(app)  # before the blueprints: their rules use <room:...>
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(chat_views.bp)
    app.register_blueprint(edit_views.bp)
    app.register_blueprint(room_views.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(ops_views.bp)
    app.register_blueprint(people_views.bp)  # also the app's ProfileError -> 503 page
    if settings.trusted_proxies:
        # Behind Beanstalk's ALB and nginx: take scheme and client address from them alone (README).
        app.asgi_app = TrustedProxies(app.asgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    # Outermost: the socket's own peer, before the proxy fix, for /metrics' "private network" rule.
    app.asgi_app = metrics_access.RecordPeer(app.asgi_app)  # type: ignore[method-assign]
    return app
