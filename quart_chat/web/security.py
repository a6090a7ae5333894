"""Security by default: CSRF tokens, response headers, Origin checks, the signed-in user.

Kept apart from the views so every blueprint gets the same rules. As in Flask's
tutorial (flaskr), a page for signed-in people is marked ``@login_required`` and
reads who is looking from ``g.user`` (typed: :func:`current_user`).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from urllib.parse import unquote, urlsplit

from quart import (
    Quart,
    Response,
    current_app,
    g,
    has_request_context,
    has_websocket_context,
    redirect,
    request,
    session,
    url_for,
)
from quart.typing import ResponseReturnValue
from quart.wrappers import BaseRequestWebsocket
from quart.wrappers.response import DataBody
from werkzeug.exceptions import HTTPException

from quart_chat import nonces, people
from quart_chat.auth import AuthUnavailable
from quart_chat.models import Identity, Profile
from quart_chat.web.context import app_services

CSRF_KEY = "csrf"
TOKEN_KEY = "tok"  # noqa: S105 (a session key name, not a secret)

# script-src gets this response's nonce too (content_security_policy): htmx's hx-csp extension runs
# trigger filters as nonce-bearing scripts and checks every hx-* element's hx-nonce against it. Never
# 'unsafe-inline' or 'unsafe-eval'.
_POLICY_AFTER_SCRIPTS = "; ".join(
    (
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)


def content_security_policy(nonce: str) -> str:
    """The policy of one response: only our own scripts, and scripts bearing this response's nonce."""
    return f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; {_POLICY_AFTER_SCRIPTS}"


def csp_nonce() -> str:
    """This response's CSP nonce (exposed to templates), made on first use.

    In a socket there is no response: the placeholder, stamped per socket by ``web.live``.
    """
    if has_websocket_context() or not has_request_context():
        return nonces.PLACEHOLDER
    nonce = g.get("csp_nonce")
    if not isinstance(nonce, str):
        nonce = g.csp_nonce = nonces.new_nonce()
    return nonce


def csrf_token() -> str:
    """This session's CSRF token, made on first use (exposed to templates)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        if has_websocket_context():
            return ""  # a socket cannot set cookies; the page that opened it carries the token
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_ok(submitted: str | None) -> bool:
    expected = session.get(CSRF_KEY)
    return (
        isinstance(expected, str)
        and isinstance(submitted, str)
        and hmac.compare_digest(expected.encode(), submitted.encode())
    )


async def add_security_headers(response: Response) -> Response:
    """Headers every response gets; an HTML one also has its placeholders stamped with its nonce
    (rows are rendered once for everyone, with the placeholder: ``quart_chat.nonces``)."""
    headers = response.headers
    nonce = csp_nonce()
    if response.mimetype == "text/html" and isinstance(response.response, DataBody):
        body = await response.get_data(as_text=True)
        if nonces.PLACEHOLDER in body:
            response.set_data(nonces.stamp(body, nonce))
    headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def own_origin(req: BaseRequestWebsocket) -> str:
    """The origin the browser used to reach us (scheme honours trusted proxies)."""
    scheme = "https" if req.scheme in ("https", "wss") else "http"
    return f"{scheme}://{req.host}".lower()


def origin_allowed(req: BaseRequestWebsocket, allowed: tuple[str, ...]) -> bool:
    """Refuse cross-site WebSockets (CSWSH): the Origin must be ours or explicitly allowed."""
    origin = req.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    normalized = f"{parts.scheme}://{parts.netloc}".lower()
    return normalized == own_origin(req) or normalized in {o.lower() for o in allowed}


async def current_identity(*, check_revoked: bool = False) -> Identity | None:
    """Who the session cookie says this is, verified with the identity provider (once per request, in ``g.user``).

    Pages always ask about revocation, so a revoked or disabled Firebase user is signed out on
    their next page as a local one is (else "Log in again" would lead straight back to the chat);
    if the provider cannot be asked, the cookie alone decides. A socket asks when told to.
    """
    if "user" in g and not check_revoked:
        return g.user
    token = session.get(TOKEN_KEY)
    identity = None
    if isinstance(token, str) and token:
        provider = app_services().identity
        if has_websocket_context():
            identity = await provider.verify(token, check_revoked=check_revoked)
        else:
            try:
                identity = await provider.verify(token, check_revoked=True)
            except AuthUnavailable:
                current_app.logger.warning("revocation check unavailable; trusting the session cookie")
                identity = await provider.verify(token)
        if identity is None and not has_websocket_context():
            session.pop(TOKEN_KEY, None)
    g.user = identity
    return identity


type View = Callable[..., Awaitable[ResponseReturnValue]]


def login_required(view: View) -> View:
    """A page for signed-in people: load the user into ``g.user``, or send a visitor to log in (303).

    A visitor comes back to the room or conversation they asked for (its history fragment or
    form post is not a page to come back to), to the path itself elsewhere.
    """

    @wraps(view)
    async def signed_in_view(*args: object, **kwargs: object) -> ResponseReturnValue:
        identity = await current_identity()
        if identity is None:
            back = _come_back_to(request.endpoint or "", request.view_args or {}) or request.path
            return redirect(url_for("auth.login_form", next=back), 303)
        g.profile = await profile_of(identity)
        return await view(*args, **kwargs)

    signed_in_view.login_required = True  # type: ignore[attr-defined]  # what return_path looks for
    return signed_in_view


def _come_back_to(endpoint: str, args: Mapping[str, object]) -> str:
    """The page a visitor sent to log in from ``endpoint`` returns to: the room (or the conversation)
    for any of a place's URLs (a history fragment or a form post is not a page to come back to)."""
    room, handle = args.get("room"), args.get("handle")
    if room:
        return url_for("chat.room", room=room)
    if handle and endpoint.startswith("chat.") and endpoint.endswith("_dm"):
        return url_for("chat.room_dm", handle=handle)
    return url_for(endpoint, **args)


# Characters of an absolute path (RFC 3986 pchar and "/"): no query, fragment, space or control.
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*")


def return_path(target: object) -> str | None:
    """Where to send someone after signing in, if ``target`` (the form's ``next``) is a page of ours.

    Only a path this app routes to a page for signed-in people (a ``@login_required`` view, which
    is what sends visitors here with a ``next``), rebuilt by ``url_for``: never another site, a
    header-breaking character (CR, LF, NUL: the redirect would fail after the session was made),
    or an unknown path. None for anything else; the caller then picks the default room.
    """
    if not isinstance(target, str) or len(target) > 2048 or not _PATH.fullmatch(target):
        return None
    if target.startswith("//") or urlsplit(target).netloc:
        return None
    path = unquote(target, errors="strict") if "%" in target else target
    if any(not c.isprintable() for c in path):
        return None
    try:
        endpoint, args = current_app.url_map.bind("localhost").match(path, method="GET")
    except (HTTPException, UnicodeDecodeError):  # no such page (404/405), a redirect, bad escapes
        return None
    if not getattr(current_app.view_functions.get(endpoint), "login_required", False):
        return None
    return _come_back_to(endpoint, args)


async def profile_of(identity: Identity) -> Profile:
    """The signed-in person's profile, made on first use (an account from before profiles existed,
    or a Firebase user seen here first) with the part of the email before the @ as its name."""
    return await app_services().profiles.ensure(identity.uid, people.name_from_email(identity.email))


def current_profile() -> Profile:
    """The signed-in user's profile in a ``@login_required`` view: their name, handle, colour, zone."""
    profile = g.get("profile")
    if not isinstance(profile, Profile):
        raise RuntimeError("current_profile() is for views marked @login_required")
    return profile


def current_user() -> Identity:
    """The signed-in user of a ``@login_required`` view."""
    user = g.get("user")
    if not isinstance(user, Identity):
        raise RuntimeError("current_user() is for views marked @login_required")
    return user


def install(app: Quart) -> None:
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csp_nonce"] = csp_nonce
