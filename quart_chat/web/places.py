"""The one access check: every route of a room or a conversation finds its place here.

A room's routes are ``/rooms/<room>/...``, a conversation's ``/dm/<handle>/...`` (the viewer's own
conversation with that person), and :func:`place_route` registers a view under both, through
:func:`place_view`: signed in (``login_required``), the place resolved by :func:`resolve`, and
:meth:`Place.allows` checked, or a 404 page. The WebSocket calls :func:`resolve` itself (it refuses
with 1008 instead). A conversation's key is never in a URL: a third person can only ever reach their
own conversations, and a room URL can never name one (``places.is_conversation``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from quart import Blueprint, current_app, render_template
from quart.typing import ResponseReturnValue

from quart_chat.models import Identity
from quart_chat.places import Place, PlaceError, conversation_key, conversation_secret, is_conversation
from quart_chat.web.context import app_services
from quart_chat.web.security import current_user, login_required

type PlaceView = Callable[..., Awaitable[ResponseReturnValue]]


class NoSuchPlace(Exception):
    """Not a place this viewer may open; ``message`` says so without saying whether it exists."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def resolve(viewer: Identity, *, room: str | None = None, handle: str | None = None) -> Place:
    """The room named, or the viewer's conversation with the person of ``handle``; else NoSuchPlace."""
    if room is not None:
        try:
            place = Place.room(room)
        except PlaceError:
            raise NoSuchPlace(f"There is no room #{room[:40]}.") from None
    else:
        who = (handle or "").lower()
        partner = await app_services().profiles.by_handle(who) if who else None
        if partner is None:
            raise NoSuchPlace(f"Nobody here has the handle @{who[:40]}.")
        key = await _conversation_key(viewer.uid, partner.uid)
        place = Place.conversation(key, viewer.uid, partner)
    if not place.allows(viewer.uid):
        raise NoSuchPlace("That conversation is not yours.")
    return place


async def _conversation_key(uid: str, other: str) -> str:
    """The key the app's secret makes for the two of them, if either has it in their sidebar (one
    read, usually); else a key either sidebar has for them from before (a conversation outlives a new
    app secret); else the new one."""
    rooms = app_services().rooms
    made = conversation_key(conversation_secret(current_app.secret_key or ""), uid, other)
    pairs = ((uid, other), (other, uid)) if uid != other else ((uid, other),)
    for person, _ in pairs:
        if await rooms.membership(person, made) is not None:
            return made
    for person, partner in pairs:
        for m in await rooms.memberships(person):
            if m.partner == partner and is_conversation(m.place):
                return m.place
    return made


def place_view(view: PlaceView) -> PlaceView:
    """A view of one place: ``view(place, ...)`` for a viewer who may open it, else the 404 page."""

    @login_required
    @wraps(view)
    async def resolved(*args: object, room: str | None = None, handle: str | None = None, **kwargs: object):
        try:
            place = await resolve(current_user(), room=room, handle=handle)
        except NoSuchPlace as exc:
            return await render_template("errors/error.html", title="Not found", message=exc.message), 404
        return await view(place, *args, **kwargs)

    return resolved


def place_route(bp: Blueprint, suffix: str, endpoint: str, **options: object) -> Callable[[PlaceView], PlaceView]:
    """Register ``view(place, ...)`` as ``/rooms/<room>{suffix}`` (``endpoint``) and ``/dm/<handle>{suffix}``
    (``endpoint_dm``), both through :func:`place_view`: one check for every route of a place."""

    def register(view: PlaceView) -> PlaceView:
        checked = place_view(view)
        bp.add_url_rule(f"/rooms/<room:room>{suffix}", endpoint, checked, **options)  # type: ignore[arg-type]
        bp.add_url_rule(f"/dm/<handle>{suffix}", f"{endpoint}_dm", checked, **options)  # type: ignore[arg-type]
        return checked

    return register
