"""The one access check: every route of a room or a conversation finds its place here.

A room's routes are ``/rooms/<room>/...``, a conversation's ``/dm/<handle>/...`` (the viewer's own
conversation with that person), and :func:`place_route` registers a view under both, through
:func:`place_view`: signed in (``login_required``), the place resolved by :func:`resolve`, and
:meth:`Place.allows` checked, or a 404 page. The WebSocket calls :func:`resolve` itself (it refuses
with 1008 instead). A conversation's key is never in a URL: a third person can only ever reach their
own conversations, and a room URL can never name one (``places.is_conversation``).

A handle is typed however people type it: a full-width ``BOB`` is PRECIS-normalised (``people.clean_handle``)
and answered 308 to ``/dm/bob`` (query kept), once the handle is known to be someone's.

A handle can pass to someone else, so a conversation's page says which conversation it was made for
(``places.page_check`` as ``peer``, in its forms, history links and socket URL); a form or socket that
names another than the one the handle names now is refused (:func:`peer_matches`): 409 here, 1008 on
the socket. Nothing is stored or sent on.

When the store or the profiles cannot be read, every route of a place is the app's 503 page with
``Retry-After`` (the socket: 1013, "Reconnecting…"), never a 500.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps

from quart import Blueprint, current_app, redirect, render_template, request
from quart.typing import ResponseReturnValue

from quart_chat import people
from quart_chat.models import Identity
from quart_chat.places import (
    Place,
    PlaceError,
    conversation_key,
    conversation_secret,
    is_conversation,
    page_check,
)
from quart_chat.profiles import ProfileError
from quart_chat.store import StoreError
from quart_chat.web.context import app_services
from quart_chat.web.errors import RETRY_AFTER
from quart_chat.web.security import current_user, login_required

type PlaceView = Callable[..., Awaitable[ResponseReturnValue]]
type MovedView = Callable[[Place], Awaitable[ResponseReturnValue]]

PEER = "peer"  # the query parameter and form field of places.page_check
UNAVAILABLE = "This conversation cannot be opened right now. Try again in a few seconds."
HANDLE_MOVED = (
    "@{handle} now belongs to someone else: this page was opened for the person who had that handle."
    " Reload it to see who @{handle} is now."
)


class NoSuchPlace(Exception):
    """Not a place this viewer may open; ``message`` says so without saying whether it exists."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def resolve(viewer: Identity, *, room: str | None = None, handle: str | None = None) -> Place:
    """The room named, or the viewer's conversation with the person of ``handle`` (in any spelling
    PRECIS maps to it); else NoSuchPlace. Store and profile failures are raised as they are."""
    if room is not None:
        try:
            place = Place.room(room)
        except PlaceError:
            raise NoSuchPlace(f"There is no room #{room[:40]}.") from None
    else:
        who = canonical_handle(handle or "")
        partner = await app_services().profiles.by_handle(who) if who else None
        if partner is None:
            raise NoSuchPlace(f"Nobody here has the handle @{(who or handle or '')[:40]}.")
        key = await _conversation_key(viewer.uid, partner.uid)
        place = Place.conversation(key, viewer.uid, partner)
    if not place.allows(viewer.uid):
        raise NoSuchPlace("That conversation is not yours.")
    return place


def canonical_handle(typed: str) -> str:
    """The handle ``typed`` stands for (full-width ``BOB`` -> ``bob``), or "" when it cannot be a handle."""
    try:
        return people.clean_handle(typed)
    except people.PersonError:
        return ""


def peer_matches(place: Place, submitted: str | None, *, required: bool) -> bool:
    """Was the page that sent ``submitted`` (its ``peer``) made for ``place``? A room's pages carry
    none and need none. ``required``: a write (a message) from a page without one is refused too,
    since no page of ours sends one without it."""
    if place.is_room:
        return True
    if submitted is None:
        return not required
    return hmac.compare_digest(submitted.encode(), place.check.encode())


def moved_message(place: Place) -> str:
    return HANDLE_MOVED.format(handle=place.handle)


async def former_place(viewer: Identity, check: str) -> Place | None:
    """The conversation of the viewer's whose page carried ``check``, as it is now (its person's
    current handle), if it is still in their sidebar: where a refused message was meant to go."""
    services = app_services()
    for m in await services.rooms.memberships(viewer.uid):
        if is_conversation(m.place) and hmac.compare_digest(page_check(m.place), check):
            partner = await services.profiles.get(m.partner or viewer.uid)
            return Place.conversation(m.place, viewer.uid, partner) if partner else None
    return None


async def _unavailable() -> ResponseReturnValue:
    page = await render_template("errors/error.html", title="Unavailable", message=UNAVAILABLE)
    return page, 503, {"Retry-After": str(RETRY_AFTER)}


async def moved_page(place: Place) -> ResponseReturnValue:
    """The default answer to a page made for another conversation: 409, saying so."""
    page = await render_template("errors/error.html", title="Someone else now", message=moved_message(place))
    return page, 409


async def submitted_peer() -> str | None:
    """The ``peer`` a request carries: its form field (a POST), else its query parameter."""
    if request.method == "POST":
        found = (await request.form).get(PEER)
        if found is not None:
            return found
    return request.args.get(PEER)


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


def _canonical_url(handle: str, canonical: str) -> str:
    """This request's address with ``canonical`` for the handle as typed, its query string kept."""
    rest = request.path[len(f"/dm/{handle}") :] if request.path.startswith(f"/dm/{handle}") else ""
    query = request.query_string.decode("latin-1")
    return f"/dm/{canonical}{rest}" + (f"?{query}" if query else "")


def place_view(view: PlaceView, *, peer_required: bool = False, moved: MovedView | None = None) -> PlaceView:
    """A view of one place: ``view(place, ...)`` for a viewer who may open it, else the 404 page.

    Also: a handle in another spelling is a 308 to its own; a page made for another conversation
    than the handle names now is ``moved(place)`` (the 409 page by default); a store or profile
    failure on the way is the 503 page with Retry-After.
    """

    @login_required
    @wraps(view)
    async def resolved(*args: object, room: str | None = None, handle: str | None = None, **kwargs: object):
        try:
            place = await resolve(current_user(), room=room, handle=handle)
        except NoSuchPlace as exc:
            return await render_template("errors/error.html", title="Not found", message=exc.message), 404
        except (StoreError, ProfileError):
            current_app.logger.exception("store or profiles failed while opening place (handle=%s)", handle)
            return await _unavailable()
        if handle is not None and handle != place.handle:
            return redirect(_canonical_url(handle, place.handle), 308)
        if not peer_matches(place, await submitted_peer(), required=peer_required):
            current_app.logger.info("refused: a page of another conversation (handle=%s)", place.handle)
            return await (moved or moved_page)(place)
        return await view(place, *args, **kwargs)

    return resolved


def place_route(
    bp: Blueprint,
    suffix: str,
    endpoint: str,
    *,
    peer_required: bool = False,
    moved: MovedView | None = None,
    **options: object,
) -> Callable[[PlaceView], PlaceView]:
    """Register ``view(place, ...)`` as ``/rooms/<room>{suffix}`` (``endpoint``) and ``/dm/<handle>{suffix}``
    (``endpoint_dm``), both through :func:`place_view`: one check for every route of a place."""

    def register(view: PlaceView) -> PlaceView:
        checked = place_view(view, peer_required=peer_required, moved=moved)
        bp.add_url_rule(f"/rooms/<room:room>{suffix}", endpoint, checked, **options)  # type: ignore[arg-type]
        bp.add_url_rule(f"/dm/<handle>{suffix}", f"{endpoint}_dm", checked, **options)  # type: ignore[arg-type]
        return checked

    return register
