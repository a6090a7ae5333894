"""Rooms people can find: the directory (``GET /rooms``), making a room (``POST /rooms``), the switcher.

``GET /rooms?name=...`` is the top bar's switcher: any spelling (``#Design Team``) goes to the room's
one name (``/rooms/design-team``), and so does the address bar (``/rooms/Design``, a 308). A name
that cannot be a room is the directory again with an error that says what is allowed. Plain forms:
all of it works without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, current_app, redirect, render_template, request
from quart.typing import ResponseReturnValue

from quart_chat import membership, rows
from quart_chat.limits import seconds
from quart_chat.places import ROOM_RULE, PlaceError, is_conversation, room_name, room_topic, shown_topic
from quart_chat.sidebar import page_title
from quart_chat.store import Room, StoreError
from quart_chat.web.context import app_services
from quart_chat.web.security import csrf_ok, current_profile, current_user, login_required

bp = Blueprint("rooms", __name__)

DIRECTORY_SIZE = 100  # the most recently active rooms the directory lists
FORM_EXPIRED = "This form expired. Please try again."


@dataclass(frozen=True, slots=True)
class Listed:
    """A room as the directory shows it to one viewer."""

    name: str
    topic: str
    here: int  # people with it open now
    iso: str
    when: str  # "Today 14:05", in the viewer's zone
    full: str


def _listed(room: Room, here: int, zone_name: str, now: datetime) -> Listed:
    zone = rows.zone(zone_name)
    local = room.last_active.astimezone(zone)
    day = rows.day_label(local.date(), now.astimezone(zone).date())
    return Listed(
        room.name,
        shown_topic(room.topic),
        here,
        room.last_active.strftime("%Y-%m-%dT%H:%M:%SZ"),
        f"{day} {local:%H:%M}",
        f"{rows.long_date(local.date())}, {local:%H:%M} {zone.key}",
    )


async def _directory(
    *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, creating: bool = False,
    typed: str = "", status: int = 200,
) -> ResponseReturnValue:
    services = app_services()
    me = current_user()
    try:
        found = await services.rooms.rooms(DIRECTORY_SIZE)
        entries = await membership.entries_for(
            services.rooms, services.profiles, me.uid, await services.rooms.memberships(me.uid), ""
        )
    except StoreError:
        current_app.logger.exception("store failed while listing rooms")
        page = await render_template("errors/error.html", title="Unavailable", message="Rooms are unavailable now.")
        return page, 503
    here = await services.presence.counts([r.name for r in found])
    zone, now = current_profile().time_zone, datetime.now(UTC)
    context: dict[str, Any] = {
        "listed": [_listed(r, here.get(r.name, 0), zone, now) for r in found],
        "entries": entries,
        "title": page_title("Rooms", sum(e.unread for e in entries)),
        "values": values or {"name": "", "topic": ""},
        "errors": errors or {},
        "creating": creating,
        "typed": typed,
    }
    return await render_template("rooms/directory.html", **context), status


@bp.get("/rooms")
@login_required
async def directory() -> ResponseReturnValue:
    """The directory; with ``?name=`` the switcher: to the room of that name, however it was typed."""
    typed = request.args.get("name")
    if typed is None:
        return await _directory()
    try:
        name = room_name(typed)
    except PlaceError as exc:
        return await _directory(errors={"name": exc.message}, typed=typed[:64], status=400)
    return redirect(f"/rooms/{name}", 303)


@bp.post("/rooms")
@login_required
async def create() -> ResponseReturnValue:
    """Make a public room (or open it if it exists), then go there (303)."""
    form = await request.form
    values = {"name": form.get("name", "")[:64], "topic": form.get("topic", "")[:200]}
    if not csrf_ok(form.get("csrf_token")):
        return await _directory(values=values, errors={"form": FORM_EXPIRED}, creating=True, status=400)
    errors: dict[str, str] = {}
    name = topic = ""
    try:
        name = room_name(values["name"])
    except PlaceError as exc:
        errors["name"] = exc.message
    try:
        topic = room_topic(values["topic"])
    except PlaceError as exc:
        errors["topic"] = exc.message
    if errors:
        return await _directory(values=values, errors=errors, creating=True, status=400)
    services = app_services()
    try:
        if await services.rooms.room(name) is None:  # a new room: counted against its maker's rate
            wait = await services.limiter.take(f"rooms:{current_user().uid}", services.room_rate)
            if wait:
                retry = seconds(wait)
                errors["form"] = f"You made many rooms in a short time. Wait {retry} s, then try again."
                page, status = await _directory(values=values, errors=errors, creating=True, status=429)
                return page, status, {"Retry-After": str(retry)}
        await services.rooms.create_room(name, topic)
    except StoreError:
        current_app.logger.exception("store failed while making room=%s", name)
        errors["form"] = "The room could not be made right now. Try again."
        return await _directory(values=values, errors=errors, creating=True, status=503)
    current_app.logger.info("room made room=%s uid=%s", name, current_user().uid)
    return redirect(f"/rooms/{name}", 303)


@bp.route("/rooms/<path:typed>", methods=["GET", "POST"])
@login_required
async def other_spelling(typed: str) -> ResponseReturnValue:
    """``/rooms/Design`` and the like: the room's one address (308), when the name can be a room at all.

    Reached only when no room route matched (their names are checked by routing), so a name that is
    already a room's, or a path under one, never gets here; nor does a conversation's key (``dm_...``
    is not a room name): anything but a page is the 404 page, as for every place one may not open.
    """
    try:
        if "/" in typed or request.method != "GET" or is_conversation(typed):
            raise PlaceError(ROOM_RULE)
        name = room_name(typed)
    except PlaceError:
        page = await render_template("errors/error.html", title="No such room", message=ROOM_RULE)
        return page, 404
    return redirect(f"/rooms/{name}", 308)
