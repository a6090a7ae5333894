"""Editing and deleting one's own message (issue 10): forms that work without JavaScript, and the
same forms through htmx, swapped into the row in place.

``GET .../messages/<id>/edit`` is the edit form: a page of its own without JavaScript (the row's
"Edit" link), the row's own ``<li>`` in place with htmx (``hx-get`` on that link). Its two forms
post to ``.../edit`` (``text``) and ``.../delete``, each with the CSRF token and, in a conversation,
the page's ``peer`` check (like the composer). Without htmx a success is 303 back to the place; with
htmx it is the new row, and everyone else gets it from the hub (``messaging.edit_message``).

Every route is a ``place_route`` (the one access check). Then the rules: an unknown or deleted id
is 404, someone else's message is 403, and neither changes anything. Edited text goes through
``validation.clean_text`` and the per-person message rate, as a new message does; a refusal keeps
the typed text in the form, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable

from quart import Blueprint, current_app, redirect, render_template, request
from quart.typing import ResponseReturnValue

from quart_chat.limits import seconds
from quart_chat.messaging import NoSuchMessage, NotYours, SendingTooFast, delete_message, edit_message
from quart_chat.models import Message
from quart_chat.places import Place
from quart_chat.rows import Row
from quart_chat.store import StoreError
from quart_chat.validation import FrameError, clean_text
from quart_chat.web.context import app_services
from quart_chat.web.places import place_route
from quart_chat.web.security import csrf_ok, current_profile, current_user

bp = Blueprint("edits", __name__)

NOT_FOUND = ("Not found", "There is no such message here: it may have been deleted.", 404)
NOT_YOURS = ("Not yours", "Only the person who wrote a message can edit or delete it.", 403)
EXPIRED = ("Form expired", "This form expired. Go back, reload the page and try again.", 400)
UNAVAILABLE = ("Not saved", "The change could not be saved right now. Try again in a few seconds.", 503)
EMPTY = "A message cannot be empty: write something, or delete it instead."
TOO_FAST = "You are making changes too fast. Wait {wait} s, then save again."


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


async def _error(title: str, message: str, status: int) -> ResponseReturnValue:
    return await render_template("errors/error.html", title=title, message=message), status


async def _form(place: Place, message: Message, text: str, error: str = "", status: int = 200) -> ResponseReturnValue:
    """The edit form: the row's ``<li>`` for htmx, a page of its own without it; ``text`` as typed."""
    values = {
        "place": place,
        "m": message,
        "text": text,
        "error": error,
        "max_chars": app_services().settings.max_message_chars,
        "inline": _htmx(),
    }
    template = "chat/_edit.html" if _htmx() else "chat/edit_page.html"
    return await render_template(template, **values), status


async def _done(place: Place, row: Row) -> ResponseReturnValue:
    """The changed row for htmx (in the viewer's zone), else back to it on the place's page."""
    if _htmx():
        return app_services().renderer.row(row, current_profile().time_zone, path=place.path)
    return redirect(f"{place.path}#m-{row.message.id}", 303)


async def _own(place: Place, message_id: str) -> Message | ResponseReturnValue:
    """The viewer's own, undeleted message of that id here, or the page that refuses."""
    try:
        message = await app_services().store.get(place.key, message_id)
    except StoreError:
        return await _error(*UNAVAILABLE)
    if message is None or message.deleted:
        return await _error(*NOT_FOUND)
    if message.author_uid != current_user().uid:
        return await _error(*NOT_YOURS)
    return message


async def _apply(place: Place, own: Message, typed: str, doing: str, change: Awaitable[Row]) -> ResponseReturnValue:
    """Run an edit or a deletion and answer it: the new row, or the refusal, with nothing changed
    and ``typed`` kept in the form (one mapping for both, so they refuse alike)."""
    try:
        row = await change
    except SendingTooFast as exc:
        wait = seconds(exc.wait)
        page, status = await _form(place, own, typed, TOO_FAST.format(wait=wait), 429)
        return page, status, {"Retry-After": str(wait)}
    except NoSuchMessage:
        return await _error(*NOT_FOUND)
    except NotYours:
        return await _error(*NOT_YOURS)
    except StoreError:
        current_app.logger.exception("store failed %s id=%s place=%s", doing, own.id, place.key)
        return await _form(place, own, typed, UNAVAILABLE[1], 503)
    return await _done(place, row)


@place_route(bp, "/messages/<message_id>/edit", "edit_form", methods=["GET"])
async def edit_form(place: Place, message_id: str) -> ResponseReturnValue:
    own = await _own(place, message_id)
    if not isinstance(own, Message):
        return own
    return await _form(place, own, own.text)


@place_route(bp, "/messages/<message_id>/edit", "edit", methods=["POST"], peer_required=True)
async def edit(place: Place, message_id: str) -> ResponseReturnValue:
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await _error(*EXPIRED)
    own = await _own(place, message_id)
    if not isinstance(own, Message):
        return own
    services = app_services()
    typed = form.get("text", "")
    try:
        text = clean_text(typed, services.settings.max_message_chars)
    except FrameError as exc:  # the same rule as a new message's
        return await _form(place, own, typed, exc.message, 400)
    if not text:
        return await _form(place, own, typed, EMPTY, 400)
    return await _apply(place, own, typed, "editing", edit_message(services, place, current_user(), message_id, text))


@place_route(bp, "/messages/<message_id>/delete", "delete", methods=["POST"], peer_required=True)
async def delete(place: Place, message_id: str) -> ResponseReturnValue:
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await _error(*EXPIRED)
    own = await _own(place, message_id)
    if not isinstance(own, Message):
        return own
    change = delete_message(app_services(), place, current_user(), message_id)
    return await _apply(place, own, own.text, "deleting", change)
