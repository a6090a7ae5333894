"""People: your own settings (``/settings``) and anyone's profile card (``/people/<handle>``).

Plain forms, a 303 after a successful POST, errors re-rendered at their field: everything works
without JavaScript. The settings page is the one page that shows an account's email, and only to
its owner. A profile store that cannot be reached is the app's 503 page wherever it happens.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from quart import Blueprint, current_app, flash, get_flashed_messages, redirect, render_template, request, url_for
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from quart_chat import people
from quart_chat.profiles import HandleTaken, ProfileChanges, ProfileError
from quart_chat.web.context import app_services
from quart_chat.web.errors import RETRY_AFTER, TOO_LARGE, page_for
from quart_chat.web.security import csrf_ok, current_profile, current_user, login_required

bp = Blueprint("people", __name__)

FORM_EXPIRED = "This form expired. Please try again."
HANDLE_TAKEN = "That handle is taken."
SAVED = "Saved."
PROFILES_UNAVAILABLE = "People's profiles are unavailable right now."
FIELDS = ("display_name", "handle", "colour", "time_zone")
CLEANERS = {
    "display_name": people.clean_display_name,
    "handle": people.clean_handle,
    "colour": people.clean_colour,
    "time_zone": people.clean_time_zone,
}


async def _error_page(title: str, message: str, status: int) -> ResponseReturnValue:
    return await render_template("errors/error.html", title=title, message=message), status


@bp.app_errorhandler(ProfileError)
async def profiles_unavailable(exc: ProfileError) -> ResponseReturnValue:
    """Any page whose profile read or write fails: a 503 that says what is wrong, never a 500."""
    current_app.logger.error("profile store failed: %s", exc)
    page = await render_template("errors/error.html", title="Unavailable", message=PROFILES_UNAVAILABLE)
    return page, 503, {"Retry-After": str(RETRY_AFTER)}


@bp.errorhandler(RequestEntityTooLarge)
async def form_too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A settings form over MAX_CONTENT_LENGTH: the form again with the saved values, saying so."""
    if request.endpoint != "people.save_settings":
        return await page_for(exc)
    profile = current_profile()
    values = {field: getattr(profile, field) for field in FIELDS}
    return await _settings_page(values, errors={"form": TOO_LARGE}, status=413)


async def _settings_page(
    values: dict[str, str], *, errors: dict[str, str] | None = None, notice: str | None = None, status: int = 200
) -> ResponseReturnValue:
    page = await render_template(
        "people/settings.html",
        profile=current_profile(),
        email=current_user().email,  # the owner's own page: the one place their email is shown
        values=values,
        errors=errors or {},
        notice=notice,
        palette=people.PALETTE,
        time_zones=people.time_zones(),
    )
    return page, status


@bp.get("/settings")
@login_required
async def settings() -> ResponseReturnValue:
    profile = current_profile()
    values = {field: getattr(profile, field) for field in FIELDS}
    notice = SAVED if SAVED in get_flashed_messages() else None
    return await _settings_page(values, notice=notice)


@bp.post("/settings")
@login_required
async def save_settings() -> ResponseReturnValue:
    """Check every field, show each error at its field (400), else save all at once and come back (303)."""
    form = await request.form
    profile = current_profile()
    # A field left out of the form keeps its value; one sent blank is an error to fix.
    values = {field: form.get(field, getattr(profile, field)) for field in FIELDS}
    if not csrf_ok(form.get("csrf_token")):
        return await _settings_page(values, errors={"form": FORM_EXPIRED}, status=400)
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in FIELDS:
        try:
            cleaned[field] = CLEANERS[field](values[field])
        except people.PersonError as exc:
            errors[exc.field] = exc.message
    if errors:
        return await _settings_page(values, errors=errors, status=400)
    try:
        await app_services().profiles.update(profile.uid, ProfileChanges(**cleaned))
    except HandleTaken:
        return await _settings_page(values, errors={"handle": HANDLE_TAKEN}, status=409)
    await flash(SAVED)
    return redirect(url_for("people.settings"), 303)


@bp.get("/people/<handle>")
@login_required
async def card(handle: str) -> ResponseReturnValue:
    """Someone's profile card; handles are one name in any case, so other spellings redirect to one URL."""
    if handle != handle.lower():
        return redirect(url_for("people.card", handle=handle.lower()), 308)
    person = await app_services().profiles.by_handle(handle)
    if person is None:
        return await _error_page("No such person", f"Nobody here has the handle @{handle[:40]}.", 404)
    viewer = current_profile()
    joined = person.joined.astimezone(ZoneInfo(viewer.time_zone))
    return await render_template(
        "people/card.html",
        person=person,
        joined=joined,
        is_me=person.uid == viewer.uid,
        colour_label=people.PALETTE.get(person.colour, person.colour),
    )
