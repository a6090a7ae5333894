"""Device cookies (OWASP's "slow down online guessing attacks with device cookies").

A browser that signed in to an account gets a signed cookie naming that account (by its
throttle key, a hash of the email; never the email itself). Next time, sign-in from that browser
skips the per-account back-off, so an attacker guessing one account from many addresses slows
down the strangers' browsers, never the owner's. The per-address and per-(account, address)
back-offs still apply to it. The cookie survives log-out on purpose; it proves only "this browser
knew the password before", not a session.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from quart import Response, current_app, request

from quart_chat.limits.accounts import account_key

COOKIE = "quart_chat_device"
MAX_ACCOUNTS = 5  # accounts one browser remembers (the newest)
MAX_AGE = 180 * 24 * 3600


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="quart-chat-device")  # type: ignore[arg-type]


def _accounts() -> list[str]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        accounts = _serializer().loads(raw)
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def knows(email: str) -> bool:
    """Has this browser signed in to this email's account before?"""
    return account_key(email) in _accounts()


def remember(response: Response, email: str) -> None:
    """After a sign-in: this browser knows this account (the newest :data:`MAX_ACCOUNTS` are kept)."""
    key = account_key(email)
    accounts = [key, *(a for a in _accounts() if a != key)][:MAX_ACCOUNTS]
    response.set_cookie(
        COOKIE,
        _serializer().dumps(accounts),
        max_age=MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
    )
