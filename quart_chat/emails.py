"""One spelling per email address, so a look-alike is the same account or none: pure, no I/O.

An account is found by its email, so two spellings that look alike must not make two accounts
(``alice@example.com`` typed in full-width letters, U+FF41 and on, beside the ASCII one, or one with
a zero-width space). The address is made canonical before any identity provider is asked, on both
stacks:

- the local part (before the last ``@``) goes through PRECIS's UsernameCaseMapped profile
  (RFC 8265, by precis-i18n): full-width letters become their ASCII forms, letters lower case,
  NFC; spaces, controls, invisible and other disallowed characters are refused, and so is text
  that breaks the Bidi Rule (RFC 5893). ASCII punctuation (``.``, ``+``, ``_``...) stays;
- the domain goes through IDNA 2008 with UTS #46 mapping (the idna package): lower case,
  full-width forms mapped, ``xn--`` and Unicode spellings made one (its Unicode form is kept,
  as a person would type it); a trailing dot is dropped.

Sign-up accepts only a canonical address. Accounts made before these rules keep signing in: see
:func:`sign_in_forms`.
"""

from __future__ import annotations

import contextlib
import unicodedata

import idna
from precis_i18n import get_profile

from quart_chat import visible_text

MAX_EMAIL = 254  # RFC 5321's limit on a path, less its angle brackets
MAX_LOCAL_PART = 64
LOCAL_PART = get_profile("UsernameCaseMapped")

INVALID = "Enter a valid email address."
INVISIBLE = "An email address cannot contain invisible characters (zero-width characters, text-direction controls)."
CONTROL = "An email address cannot contain control characters such as line breaks."
SPACES = "An email address cannot contain spaces."
BIDI = "The part before the @ mixes right-to-left and left-to-right text in a way that could disguise it."
LOCAL_CHARACTERS = "The part before the @ can hold letters, digits and . _ - + and similar ASCII punctuation."
DOMAIN = "The part after the @ is not a valid domain name."


class EmailError(ValueError):
    """An address we refuse; ``message`` says what is wrong, for the form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def canonical(raw: str) -> str:
    """The one spelling of ``raw``'s address, or :class:`EmailError` saying why it is not one."""
    email = raw.strip()
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in email):
        raise EmailError(CONTROL)
    if any(visible_text.is_default_ignorable(c) for c in email):  # bidi controls are among them
        raise EmailError(INVISIBLE)
    if any(c.isspace() for c in email):
        raise EmailError(SPACES)
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or "@" in local or len(email) > MAX_EMAIL:
        raise EmailError(INVALID)
    address = f"{_local_part(local)}@{_domain(domain)}"
    if len(address) > MAX_EMAIL:
        raise EmailError(INVALID)
    return address


def _local_part(local: str) -> str:
    try:
        mapped = LOCAL_PART.enforce(local)
    except UnicodeError as exc:
        reason = getattr(exc, "reason", "")
        raise EmailError(BIDI if reason.endswith("bidi_rule") else LOCAL_CHARACTERS) from None
    if len(mapped.encode()) > MAX_LOCAL_PART:
        raise EmailError(INVALID)
    return mapped


def _domain(domain: str) -> str:
    domain = domain[:-1] if domain.endswith((".", "\N{FULLWIDTH FULL STOP}", "\N{IDEOGRAPHIC FULL STOP}")) else domain
    try:
        return idna.decode(idna.encode(domain, uts46=True))
    except (idna.IDNAError, UnicodeError):
        raise EmailError(DOMAIN) from None


def legacy(raw: str) -> str:
    """How addresses were kept before these rules (trimmed, lower-cased): how older accounts are found."""
    return raw.strip().lower()


def sign_in_forms(raw: str) -> list[str]:
    """The addresses a sign-in tries, in order: the canonical one, then the older spelling if it differs.

    So an account made before these rules still signs in: one whose address PRECIS now refuses
    (say, with a zero-width space) by its old spelling alone; one whose address now maps to
    another (full-width letters) by its old spelling, when the canonical account does not take
    the password. For an ASCII address the two are one, and a sign-in is one attempt.
    """
    forms = []
    with contextlib.suppress(EmailError):  # refused now: only the older spelling can find the account
        forms.append(canonical(raw))
    old = legacy(raw)
    if old and "@" in old and len(old) <= MAX_EMAIL and old not in forms:
        forms.append(old)
    return forms
