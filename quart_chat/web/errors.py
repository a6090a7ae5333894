"""The app's own page for every error the framework raises (404, 405, 413, 503, a crash's 500, ...),
instead of Werkzeug's bare one: styled, with a way back.

A view that knows better answers itself (a form re-rendered with its error, as auth_views and
people_views do for a body over MAX_CONTENT_LENGTH); everything else gets ``errors/error.html``
with a sentence that says what happened, under the same CSP and headers as every page.
"""

from __future__ import annotations

from quart import Quart, Response, has_websocket_context, render_template
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

MAX_CONTENT_LENGTH = 64 * 1024  # the app's request body limit (app.py): no form of ours comes near it
TOO_LARGE = (
    f"That form was larger than {MAX_CONTENT_LENGTH // 1024} KiB, far more than it takes. "
    "Shorten what you entered and try again."
)

RETRY_AFTER = 5  # seconds, for a 503 while the store or the profiles fail: such outages are usually short
PAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request", "That request could not be understood. Go back and try again."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    403: ("Not allowed", "You may not see or do this here."),
    409: ("Conflict", "That clashed with a change made meanwhile. Reload the page and try again."),
    413: ("Too large", TOO_LARGE),
    429: ("Too many requests", "That was too many at once. Wait a few seconds, then try again."),
    500: ("Something went wrong", "The chat could not answer that. Try again in a moment."),
    503: ("Unavailable", "The chat cannot answer right now. Try again in a few seconds."),
}


async def page_for(exc: HTTPException) -> ResponseReturnValue:
    """``exc`` as the app's error page, with its status and its own headers (Allow, Retry-After...)."""
    code = exc.code or 500
    title, message = PAGES.get(code, (exc.name, exc.description or exc.name))
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return await render_template("errors/error.html", title=title, message=message), code, headers


async def client_error(exc: HTTPException) -> ResponseReturnValue:
    """Any 4xx or 5xx without a handler of its own (an unhandled exception arrives here as a 500);
    redirects and WebSocket handshakes are left as they are."""
    if has_websocket_context() or exc.code is None or exc.code < 400:
        return exc
    return await page_for(exc)


def close_after_unread_body(response: Response) -> Response:
    """A 413 is sent before the body is read; the server then cannot reuse the connection, so say so
    (else a client's next request on it meets a closed socket instead of an answer)."""
    if response.status_code == 413:
        response.headers["Connection"] = "close"
    return response


def install(app: Quart) -> None:
    app.register_error_handler(HTTPException, client_error)
    app.after_request(close_after_unread_body)
