"""CSP nonces: one per HTML response, and the placeholder that frames and fragments carry.

htmx's CSP-safe extension (hx-csp) gates every element with hx-* attributes behind
``hx-nonce="<the page's nonce>"`` and runs trigger filters (``keydown[key=='Enter']``) through
nonce-bearing injected scripts instead of eval. So every response must carry a fresh nonce in
its CSP and on its elements.

Rows and live frames are rendered without a request (once per time zone, shared by every
viewer), so they are rendered with :data:`PLACEHOLDER` and stamped at the edge: an HTML
response with its own nonce (``web.security``), a socket with the nonce of the page that opened
it (``web.live``), one ``str.replace`` per frame. The placeholder holds ``@``, which is not in a
nonce's alphabet, so an unstamped element can never pass hx-csp's check.
"""

from __future__ import annotations

import re
import secrets

PLACEHOLDER = "@@NONCE@@"
NONCE_BYTES = 18  # 144 random bits, 24 base64url characters (no padding)
_SHAPE = re.compile(r"[A-Za-z0-9_-]{24}")


def new_nonce() -> str:
    """A fresh random nonce, base64url, of the one fixed length :func:`valid` accepts."""
    return secrets.token_urlsafe(NONCE_BYTES)


def valid(nonce: object) -> bool:
    """Is ``nonce`` the shape we mint (base64url, 24 characters)? Anything else is never echoed:
    a socket URL is the browser's to write, and a nonce goes into HTML attributes unescaped."""
    return isinstance(nonce, str) and _SHAPE.fullmatch(nonce) is not None


def stamp(html: str, nonce: str | None) -> str:
    """``html`` with every placeholder replaced by ``nonce``; left as it is when the nonce is not
    one of ours (its hx-* elements then stay inert: hx-csp strips them, nothing else breaks)."""
    if nonce is None or not valid(nonce) or PLACEHOLDER not in html:
        return html
    return html.replace(PLACEHOLDER, nonce)
