"""The chat pages of a place (a room or a conversation): the page (last page of history, composer,
sidebar), older history, the form post without JavaScript, leaving it. Every one is a
``place_route``: one access check for all of them (``web/places.py``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from quart import Blueprint, Response, current_app, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue

from quart_chat import membership
from quart_chat.limits import seconds
from quart_chat.membership import JoiningTooFast
from quart_chat.messaging import SendingTooFast, profiles_for, send_message
from quart_chat.models import Message, change_cursor
from quart_chat.places import Place, shown_topic
from quart_chat.rendering import ZERO_CURSOR, new_client_id
from quart_chat.rows import rows_of
from quart_chat.sidebar import page_title
from quart_chat.store import StoreError
from quart_chat.validation import FrameError, clean_client_id, clean_text
from quart_chat.web.context import app_services
from quart_chat.web.places import PEER, former_place, moved_message, place_route
from quart_chat.web.security import csp_nonce, csrf_ok, current_identity, current_profile, current_user

bp = Blueprint("chat", __name__)


@bp.get("/")
async def index() -> ResponseReturnValue:
    if await current_identity():
        return redirect(url_for("chat.room", room="general"), 303)
    return redirect(url_for("auth.login_form"), 303)




async def _error(title: str, message: str, status: int) -> ResponseReturnValue:
    return await render_template("errors/error.html", title=title, message=message), status


def _one_page(messages: list[Message], page: int) -> tuple[list[Message], bool]:
    """Trim a ``page + 1`` read to ``page`` rows; the extra row only says whether older ones exist."""
    return messages[-page:], len(messages) > page


async def _page_of_rows(read: list[Message], page: int, place: Place) -> dict[str, Any]:
    """A ``page + 1`` read as the template values every page of rows shares (room, history).

    Rows are in the viewer's zone with their authors' current names. The extra row is also the
    first shown row's predecessor, so it groups and divides the same way here as in every other
    page, catch-up and live row (one partial for all of them).
    """
    messages, has_older = _one_page(read, page)
    previous = read[-page - 1] if has_older else None
    profiles = await profiles_for(app_services(), read)
    zone = current_profile().time_zone
    html = app_services().renderer.rows(rows_of(messages, previous, profiles), zone, path=place.path)
    return {
        "me": current_user(),
        "messages": messages,
        "rows": Markup(html),  # noqa: S704 (rendered by the autoescaping row partial)
        "has_older": has_older,
        "time_zone": zone,
    }


TOO_MANY_JOINS = "You opened many new rooms in a short time. Wait {wait} s, then open this one again."
NOT_JOINED = (
    "You are in {cap} rooms, the most one may be in, so this one is not added to your sidebar."
    " Leave a room to join it; you can still read and write here."
)
HISTORY_UNAVAILABLE = ("Unavailable", "Chat history is unavailable right now.", 503)
BAD_HISTORY_LINK = ("Bad link", "That link to older messages is not one this chat made. Go back to the room.", 400)


@place_route(bp, "", "room", methods=["GET"])
async def room(place: Place) -> ResponseReturnValue:
    """The page: opening it joins the place (it is in the sidebar from then on) and reads it."""
    services = app_services()
    page = services.settings.history_page_size
    me = current_user()
    try:
        shown = await _page_of_rows(await services.store.latest(place.key, page + 1), page, place)
        messages = shown["messages"]
        newest = messages[-1].cursor if messages else ZERO_CURSOR
        visited = await membership.visit(
            services.rooms, services.profiles, services.members, services.hub, me.uid, place, newest, services.joins
        )
        entries = visited.entries
        record = await services.rooms.room(place.key) if place.is_room else None
    except JoiningTooFast as exc:  # the rooms one joins are bounded: the page says when to come back
        wait = seconds(exc.wait)
        page, status = await _error("Too many new rooms", TOO_MANY_JOINS.format(wait=wait), 429)
        return page, status, {"Retry-After": str(wait)}
    except StoreError:
        current_app.logger.exception("store failed while rendering place=%s", place.key)
        return await _error(*HISTORY_UNAVAILABLE)
    return await render_template(
        "chat/room.html",
        place=place,
        topic=shown_topic(record.topic) if record else "",
        entries=entries,
        title=page_title(place.label, sum(e.unread for e in entries if e.key != place.key)),
        **shown,
        # A relative path: htmx makes it ws:// or wss:// from the page's own scheme and host.
        # changed=: edits and deletions after this read come on reconnect too (models.change_cursor).
        # n=: this page's CSP nonce, which the socket stamps on the hx-* elements of its frames (nonces).
        ws_path=f"{place.path}/ws?"
        + urlencode({"after": newest, "changed": change_cursor(messages), **place.query, "n": csp_nonce()}),
        max_chars=services.settings.max_message_chars,
        client_id=new_client_id(),  # the composer's one-time id: a re-sent form lands once
        presence=await services.presence.at_load(place.key),  # who is here now; the socket keeps it live
        not_joined="" if visited.joined else NOT_JOINED.format(cap=services.settings.max_memberships),
    )


@place_route(bp, "/history", "history", methods=["GET"])
async def history(place: Place) -> ResponseReturnValue:
    """Older messages before a cursor: a fragment for htmx, a full page without it."""
    services = app_services()
    before = request.args.get("before", "")
    if not services.store.valid_cursor(before):  # only what a room page rendered; else 400, never a read
        return await _error(*BAD_HISTORY_LINK)
    page = services.settings.history_page_size
    try:
        shown = await _page_of_rows(await services.store.before(place.key, before, page + 1), page, place)
    except StoreError:
        return await _error(*HISTORY_UNAVAILABLE)
    template = "chat/_history.html" if request.headers.get("HX-Request") else "chat/history_page.html"
    return await render_template(template, place=place, **shown)


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
            f'.msg[data-author="{uid}"] .own-edit{{display:inline}}\n'  # the Edit link: the author's alone
            # Rows that mention the viewer, and their mention of them: marked for them alone.
            f'.msg[data-mentions~="{uid}"]{{background:var(--mention-bg);border-left-color:var(--mention-border)}}\n'
            f'.msg a.mention[data-uid="{uid}"]{{font-weight:700;background:var(--mention-chip)}}\n'
        )
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Vary"] = "Cookie"
    return response


async def _not_sent(
    place: Place | None, message: str, text: str, client_id: str | None, status: int
) -> ResponseReturnValue:
    """The "Not sent" page: the typed text in a form to send again to ``place`` (its one-time id kept);
    with no place, the text alone, to copy."""
    page = await render_template(
        "chat/not_sent.html",
        place=place,
        message=message,
        text=text,
        client_id=client_id,
        max_chars=app_services().settings.max_message_chars,
    )
    return page, status


def _kept(typed: str) -> str:
    """A refused text to give back in the "Not sent" form (a lone surrogate cannot be sent back)."""
    return typed.encode("utf-8", "replace").decode("utf-8")


async def message_to_moved_handle(place: Place) -> ResponseReturnValue:
    """A no-JS post from a page made for the person who had ``place.handle`` before: 409, NOT sent.

    The text comes back in a form to the conversation the page was made for, under that person's
    handle now, when it is still in the sender's sidebar; else only the text, with nowhere to send it.
    """
    form = await request.form
    text = _kept(form.get("message", ""))  # given back whole: never a silent cut
    try:
        client_id = clean_client_id(form.get("client_id"))
    except FrameError:
        client_id = None
    message = "Not sent. " + moved_message(place)
    try:
        former = await former_place(current_user(), form.get(PEER) or "") if csrf_ok(form.get("csrf_token")) else None
    except StoreError:
        former = None
    if former is not None:
        message += f" It was meant for {former.label}, who is @{former.handle} now: send it to them below."
    return await _not_sent(former, message, text, client_id, 409)


@place_route(bp, "/messages", "post_message", methods=["POST"], peer_required=True, moved=message_to_moved_handle)
async def post_message(place: Place) -> ResponseReturnValue:
    """The composer without JavaScript: a plain POST, then back to the place (303)."""
    services = app_services()
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await _error("Form expired", "This form expired. Please try again.", 400)
    try:
        client_id = clean_client_id(form.get("client_id"))
    except FrameError as exc:
        return await _error("Not sent", exc.message, 400)
    typed = form.get("message", "")
    try:
        text = clean_text(typed, services.settings.max_message_chars)
    except FrameError as exc:  # the same rule as the WebSocket's frames; what was typed comes back whole
        return await _not_sent(place, f"{exc.message} Your message is kept below.", _kept(typed), client_id, 400)
    if text:
        try:
            await send_message(services, place, current_user(), text, client_id=client_id)
        except SendingTooFast as exc:  # the same per-person limit as the sockets': the typed text is kept
            wait = seconds(exc.wait)
            page, status = await _not_sent(
                place, f"You are sending too fast. Wait {wait} s, then send it again.", text, client_id, 429
            )
            return page, status, {"Retry-After": str(wait)}
        except StoreError:
            return await _error("Not sent", "The message could not be saved. Try again.", 503)
    return redirect(place.path, 303)


BACK = re.compile(r"/rooms(/[a-z0-9-]{1,32})?|/dm/[a-z0-9_-]{2,32}")  # a place's page, or the directory


def _back(target: str | None, left: Place) -> str:
    """Where a leave form returns: the page it was on (exactly a room's, a conversation's or the
    directory's path; anything else is not followed), unless that is the place just left (opening it
    would join it again): then the directory."""
    if not target or BACK.fullmatch(target) is None or target == left.path:
        return url_for("rooms.directory")
    return target


@place_route(bp, "/leave", "leave", methods=["POST"])
async def leave(place: Place) -> ResponseReturnValue:
    """Take the place off one's sidebar (a conversation comes back with its next message)."""
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await _error("Form expired", "This form expired. Please try again.", 400)
    services = app_services()
    try:
        await membership.leave(services.rooms, services.members, services.hub, current_user().uid, place)
    except StoreError:
        return await _error("Not left", "That could not be done right now. Try again.", 503)
    return redirect(_back(form.get("back"), place), 303)
