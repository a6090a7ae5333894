"""The chat pages: the room (last page of history + composer) and older history pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from quart import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from quart_chat.messaging import profiles_for, send_message
from quart_chat.models import Message
from quart_chat.rendering import ZERO_CURSOR, new_client_id
from quart_chat.rows import rows_of
from quart_chat.store import StoreError
from quart_chat.validation import FrameError, clean_client_id, clean_text, is_room_name
from quart_chat.web.context import app_services
from quart_chat.web.security import csrf_ok, current_identity, current_profile, current_user, login_required

bp = Blueprint("chat", __name__)


@bp.get("/")
async def index() -> ResponseReturnValue:
    if await current_identity():
        return redirect(url_for("chat.room", room="general"), 303)
    return redirect(url_for("auth.login_form"), 303)


@bp.get("/rooms")
async def go_to_room() -> ResponseReturnValue:
    """The room switcher's GET form: normalise the name and redirect to the room."""
    name = request.args.get("name", "").strip().lower().lstrip("#")
    if not is_room_name(name):
        abort(404)
    return redirect(url_for("chat.room", room=name), 303)


async def _error(title: str, message: str, status: int) -> ResponseReturnValue:
    return await render_template("errors/error.html", title=title, message=message), status


def _one_page(messages: list[Message], page: int) -> tuple[list[Message], bool]:
    """Trim a ``page + 1`` read to ``page`` rows; the extra row only says whether older ones exist."""
    return messages[-page:], len(messages) > page


async def _page_of_rows(read: list[Message], page: int) -> dict[str, Any]:
    """A ``page + 1`` read as the template values every page of rows shares (room, history).

    Rows are in the viewer's zone with their authors' current names. The extra row is also the
    first shown row's predecessor, so it groups and divides the same way here as in every other
    page, catch-up and live row (one partial for all of them).
    """
    messages, has_older = _one_page(read, page)
    previous = read[-page - 1] if has_older else None
    profiles = await profiles_for(app_services(), read)
    zone = current_profile().time_zone
    html = app_services().renderer.rows(rows_of(messages, previous, profiles), zone)
    return {
        "me": current_user(),
        "messages": messages,
        "rows": Markup(html),  # noqa: S704 (rendered by the autoescaping row partial)
        "has_older": has_older,
        "time_zone": zone,
    }


HISTORY_UNAVAILABLE = ("Unavailable", "Chat history is unavailable right now.", 503)
BAD_HISTORY_LINK = ("Bad link", "That link to older messages is not one this chat made. Go back to the room.", 400)


@bp.get("/rooms/<room:room>")
@login_required
async def room(room: str) -> ResponseReturnValue:
    services = app_services()
    page = services.settings.history_page_size
    try:
        shown = await _page_of_rows(await services.store.latest(room, page + 1), page)
    except StoreError:
        current_app.logger.exception("store failed while rendering room=%s", room)
        return await _error(*HISTORY_UNAVAILABLE)
    messages = shown["messages"]
    return await render_template(
        "chat/room.html",
        room=room,
        **shown,
        # A relative path: htmx makes it ws:// or wss:// from the page's own scheme and host.
        ws_path=f"/rooms/{room}/ws?" + urlencode({"after": messages[-1].cursor if messages else ZERO_CURSOR}),
        max_chars=services.settings.max_message_chars,
        client_id=new_client_id(),  # the composer's one-time id: a re-sent form lands once
        presence=await services.presence.at_load(room),  # who is here now; the socket keeps it live
    )


@bp.get("/rooms/<room:room>/history")
@login_required
async def history(room: str) -> ResponseReturnValue:
    """Older messages before a cursor: a fragment for htmx, a full page without it."""
    services = app_services()
    before = request.args.get("before", "")
    if not services.store.valid_cursor(before):  # only what a room page rendered; else 400, never a read
        return await _error(*BAD_HISTORY_LINK)
    page = services.settings.history_page_size
    try:
        shown = await _page_of_rows(await services.store.before(room, before, page + 1), page)
    except StoreError:
        return await _error(*HISTORY_UNAVAILABLE)
    template = "chat/_history.html" if request.headers.get("HX-Request") else "chat/history_page.html"
    return await render_template(template, room=room, **shown)


@bp.get("/me.css")
async def my_style() -> ResponseReturnValue:
    """Marks the viewer's own messages; rows are rendered once for everyone, so this is per viewer."""
    me = await current_identity()
    body = ""
    if me is not None:
        uid = "".join(c if c.isalnum() or c in "-_" else f"\\{ord(c):x} " for c in me.uid)
        body = (
            f'.msg[data-author="{uid}"]{{background:var(--mine-bg);border-left-color:var(--mine-border)}}\n'
            f'.msg[data-author="{uid}"] .author::after{{content:" (you)";color:var(--muted)}}\n'
            f'#typing [data-uid="{uid}"]{{display:none}}\n'  # rendered once per room; not shown to the typer
        )
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Vary"] = "Cookie"
    return response


@bp.post("/rooms/<room:room>/messages")
@login_required
async def post_message(room: str) -> ResponseReturnValue:
    """The composer without JavaScript: a plain POST, then back to the room (303)."""
    services = app_services()
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await _error("Form expired", "This form expired. Please try again.", 400)
    try:
        text = clean_text(form.get("message", ""), services.settings.max_message_chars)
        client_id = clean_client_id(form.get("client_id"))
    except FrameError as exc:  # the same rule as the WebSocket's frames
        return await _error("Not sent", exc.message, 400)
    if text:
        try:
            await send_message(services, room, current_user(), text, client_id=client_id)
        except StoreError:
            return await _error("Not sent", "The message could not be saved. Try again.", 503)
    return redirect(url_for("chat.room", room=room), 303)
