"""Sign-up, log-in and log-out: plain forms that work without JavaScript.

Success redirects (303) to the chat; failure re-renders the form with the
error and a 4xx status, keeping the email (and display name) but never the password.
Sign-up also takes a display name, checked before the identity provider is asked, so a
bad one makes no account; the person's profile is made before the redirect.

Every password check runs inside ``services.sign_in.attempt`` (per-account and per-address
back-offs, ``limits/accounts.py``) and sign-up also counts against its per-address rate; a throttled
or busy answer carries Retry-After. A sign-up for an address that has an account signs in with
that account's password, and otherwise says nothing about whether the address is registered.
"""

from __future__ import annotations

from typing import Literal

from quart import Blueprint, current_app, redirect, render_template, request, session, url_for
from quart.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from quart_chat import emails, notices, people
from quart_chat.auth import AuthError, AuthUnavailable, IdentityProvider, InvalidCredentials, SignedIn
from quart_chat.auth.hashing import first_in_line
from quart_chat.close_codes import Close
from quart_chat.web import devices
from quart_chat.web.context import app_services
from quart_chat.web.errors import TOO_LARGE, page_for
from quart_chat.web.security import TOKEN_KEY, csrf_ok, current_identity, profile_of, return_path

bp = Blueprint("auth", __name__)

MAX_PASSWORD = 1024
FORM_EXPIRED = "This form expired. Please try again."
PASSWORD_TOO_LONG = f"A password has at most {MAX_PASSWORD} characters."


def _safe_next(target: str | None) -> str:
    """A page of ours for signed-in people (see ``return_path``); anything else goes to the default room."""
    return return_path(target) or url_for("chat.room", room="general")


async def _sign_out(identity: IdentityProvider, token: str) -> None:
    """End the session at the provider if it can be reached, and close its sockets on every instance.

    The cookie is cleared regardless. With Firebase unreachable the revocation cannot be recorded:
    the user is still signed out of this browser (and its sockets, here and elsewhere), and their
    other sessions end when they expire or at the next log-out. The sockets are closed through the
    person's hub channel (1008 "You are signed out"), so a socket on another instance does not wait
    for its next revocation check. When the provider's sign-out ends every session of the person
    (``sign_out_ends_all``: Firebase revokes all their tokens) and it went through, every socket of
    theirs is closed, here and through the hub (a notice with scope "all"), not only this session's.
    """
    services = app_services()
    try:
        who = await identity.verify(token)  # whose: before the provider forgets the session
    except AuthUnavailable:
        who = None
    every_session = identity.sign_out_ends_all
    try:
        await identity.sign_out(token)
    except AuthUnavailable:
        current_app.logger.warning("sign-out could not reach the identity provider; clearing the cookie only")
        every_session = False  # nothing was revoked: the person's other sessions still stand
    services.connections.close_session(token, Close.POLICY_VIOLATION, "signed out")  # its open tabs, here
    if who is None:
        return
    if every_session:
        current_app.logger.info("signed out of every session uid=%s", who.uid)
        services.connections.close_person(who.uid, Close.POLICY_VIOLATION, "signed out")  # all their tabs, here
    # And on every other instance, through the person's channel.
    await services.hub.notify(who.uid, notices.signed_out(token, every_session=every_session))


async def _form(
    template: str, *, status: int = 200, error: str | None = None, retry_after: int | None = None, **values: object
) -> ResponseReturnValue:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return await render_template(template, error=error, **values), status, headers


async def _account_form(template: str, action: Literal["signup", "login"]) -> ResponseReturnValue:
    """One view per form, as flaskr's ``register`` and ``login``: GET shows it, POST submits it."""
    if request.method == "POST":
        return await _submit(template, action)
    if await current_identity():
        return redirect(url_for("chat.index"), 303)
    return await _form(template, next=request.args.get("next"))


async def _submit(template: str, action: Literal["signup", "login"]) -> ResponseReturnValue:
    form = await request.form
    email = form.get("email", "").strip()
    password = form.get("password", "")
    next_url = form.get("next")
    raw_name = form.get("display_name", "")
    kept = {"email": email, "next": next_url, "display_name": raw_name}
    if not csrf_ok(form.get("csrf_token")):
        return await _form(template, status=400, error=FORM_EXPIRED, **kept)
    if not email or not password:
        return await _form(template, status=400, error="Enter your email and a password.", **kept)
    if len(password) > MAX_PASSWORD:
        return await _form(template, status=400, error=PASSWORD_TOO_LONG, field="password", **kept)
    # One spelling per address before the provider is asked (emails.py): a look-alike of an address
    # is that account, or refused at sign-up; a sign-in also tries an older account's own spelling.
    display_name = ""
    if action == "signup":
        try:  # a bad address or name makes no account
            addresses = [emails.canonical(email)]
            # No name given: the local part as typed (its letter case kept), which passed PRECIS above.
            display_name = people.clean_display_name(raw_name) if raw_name.strip() else people.name_from_email(email)
        except emails.EmailError as exc:
            return await _form(template, status=400, error=exc.message, field="email", **kept)
        except people.PersonError as exc:
            return await _form(template, status=400, error=exc.message, field=exc.field, **kept)
    else:
        addresses = emails.sign_in_forms(email)
        if not addresses:
            return await _form(template, status=400, error=emails.INVALID, field="email", **kept)
    services = app_services()
    identity = services.identity
    address = request.remote_addr  # the browser's, with the right CHAT_TRUSTED_PROXIES (README)
    known = devices.knows(addresses[0])  # this browser signed in to this account before: first in line for a hash
    try:
        with first_in_line(known):
            async with services.sign_in.attempt(addresses[0], address, trusted=known):
                if action == "signup":
                    await services.sign_in.sign_up(address)
                    signed = await identity.sign_up(addresses[0], password)
                else:
                    signed = await _sign_in(identity, addresses, password)
    except AuthError as exc:
        if exc.status == 429:
            current_app.logger.warning("%s throttled for %s s", action, exc.retry_after)
        return await _form(
            template, status=exc.status, error=exc.message, field=exc.field, retry_after=exc.retry_after, **kept
        )
    old = session.get(TOKEN_KEY)
    if isinstance(old, str) and old:
        await _sign_out(identity, old)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session[TOKEN_KEY] = signed.token
    session.permanent = True
    new_account = action == "signup" and not signed.existing
    current_app.logger.info("%s uid=%s", "signed up" if new_account else "signed in", signed.identity.uid)
    # The profile exists before the first page: named as asked at sign-up; an account from before
    # profiles (or a Firebase user first seen here) is named from its email, as @login_required would.
    # A ProfileError here is the app's 503 page; the session stands, and the next page makes the profile.
    if new_account:
        await services.profiles.ensure(signed.identity.uid, display_name)
    else:
        await profile_of(signed.identity)
    response = redirect(_safe_next(next_url), 303)
    devices.remember(response, addresses[0])
    return response


async def _sign_in(identity: IdentityProvider, addresses: list[str], password: str) -> SignedIn:
    """Sign in under the first of ``addresses`` (``emails.sign_in_forms``) that takes the password."""
    for address in addresses[:-1]:
        try:
            return await identity.sign_in(address, password)
        except InvalidCredentials:
            continue
    return await identity.sign_in(addresses[-1], password)


TEMPLATES = {"auth.signup_form": "auth/signup.html", "auth.login_form": "auth/login.html"}


@bp.errorhandler(RequestEntityTooLarge)
async def form_too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    """A form body over MAX_CONTENT_LENGTH: the form again, saying so (it could not be read, so it is empty)."""
    template = TEMPLATES.get(request.endpoint or "")
    if template is None:
        return await page_for(exc)
    return await _form(template, status=413, error=TOO_LARGE)


@bp.route("/signup", methods=["GET", "POST"])
async def signup_form() -> ResponseReturnValue:
    return await _account_form("auth/signup.html", "signup")


@bp.route("/login", methods=["GET", "POST"])
async def login_form() -> ResponseReturnValue:
    return await _account_form("auth/login.html", "login")


@bp.post("/logout")
async def logout() -> ResponseReturnValue:
    form = await request.form
    if not csrf_ok(form.get("csrf_token")):
        return await render_template("errors/error.html", title="Form expired", message=FORM_EXPIRED), 400
    token = session.get(TOKEN_KEY)
    if isinstance(token, str) and token:
        await _sign_out(app_services().identity, token)
    session.clear()
    return redirect(url_for("auth.login_form"), 303)
