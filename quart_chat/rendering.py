"""HTML that goes over the WebSocket: rows, and the htmx 4 partials that place them.

Every live frame is a list of ``<hx-partial>``/``<hx-upsert>`` elements, so
each says where it goes. Rows are upserted by id and kept sorted by their
``data-key`` (the store's cursor), which makes a resent row harmless: it
replaces itself instead of appearing twice, and order is the store's order on
every page whatever order frames arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from markupsafe import escape
from quart import current_app, render_template

from quart_chat.models import Message, make_cursor

ZERO_CURSOR = make_cursor(datetime(1970, 1, 1, tzinfo=UTC), "0")


async def render_row(message: Message) -> str:
    """One message row; the same partial serves history and live rows.

    Rendered straight from the template (no request context processors): it is on the hot path
    and needs nothing but the message.
    """
    template = current_app.jinja_env.get_template("chat/_message.html")
    return await template.render_async(m=message)


def rows_partial(rows: Iterable[str]) -> str:
    return f'<hx-upsert hx-target="#messages" key="data-key" sort>{"".join(rows)}</hx-upsert>'


def partial(target: str, html: str, swap: str = "outerHTML") -> str:
    return f'<hx-partial hx-target="{escape(target)}" hx-swap="{escape(swap)}">{html}</hx-partial>'


async def status_partial(state: str, reason: str = "", login_href: str | None = None) -> str:
    html = await render_template("chat/_status.html", state=state, reason=reason, login_href=login_href)
    return partial("#live-status", html)


async def composer_partial(room: str, max_chars: int) -> str:
    html = await render_template("chat/_composer.html", room=room, max_chars=max_chars)
    return partial("#composer", html)


async def composer_error_partial(error: str) -> str:
    return partial("#composer-error", await render_template("chat/_composer_error.html", error=error))


async def reset_partials(room: str, messages: list[Message], has_older: bool) -> str:
    """Replace the whole message list: used when a reconnecting page is too far behind."""
    rows = "".join([await render_row(m) for m in messages])
    older = await render_template("chat/_older.html", room=room, messages=messages, has_older=has_older)
    return partial("#messages", rows, "innerHTML") + partial("#older", older)
