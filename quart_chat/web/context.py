"""The request's view of the app: one typed accessor for the services."""

from __future__ import annotations

from quart import Quart, current_app

from quart_chat.services import Services

EXTENSION_KEY = "chat"


def app_services() -> Services:
    """The app's identity, store, hub and metrics (set by ``create_app``)."""
    return app_services_of(current_app)


def app_services_of(app: Quart) -> Services:
    """The services of ``app`` outside a request (the launcher, tests)."""
    return app.extensions[EXTENSION_KEY]
