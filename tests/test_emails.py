"""One spelling per email address (PRECIS for the local part, IDNA for the domain): the pure rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quart_chat import emails
from quart_chat.emails import EmailError, canonical, sign_in_forms

FULL_WIDTH_ALICE = "".join(chr(ord(c) + 0xFEE0) for c in "alice")  # U+FF41...


@pytest.mark.parametrize(
    "spelling",
    [
        "alice@example.com",
        " Alice@Example.COM ",
        f"{FULL_WIDTH_ALICE}@example.com",
        "alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # a full-width domain
        "alice@example.com.",  # the root's dot
        "ALICE@EXAMPLE.COM",
    ],
)
def test_look_alike_spellings_are_one_address(spelling: str) -> None:
    assert canonical(spelling) == "alice@example.com"


@pytest.mark.parametrize(
    ("spelling", "says"),
    [
        ("alice\u200b@example.com", "invisible characters"),  # zero-width space
        ("alice\u2060@example.com", "invisible characters"),  # word joiner
        ("\u202ealice@example.com", "invisible characters"),  # right-to-left override
        ("alice@exa\u200dmple.com", "invisible characters"),
        ("ali\x00ce@example.com", "control characters"),  # NUL
        ("alice\x1b[31m@example.com", "control characters"),  # an escape sequence
        ("alice\n@example.com", "control characters"),
        ("alice\r\nBcc: x@example.com", "control characters"),
        ("al ice@example.com", "spaces"),
        ("alice\u00a0@example.com", "spaces"),  # a no-break space
        ("\u05d0\u05d1c@example.com", "right-to-left"),  # breaks the Bidi Rule
        ("\u01c5@example.com", "can hold letters"),  # a compatibility character (PRECIS: disallowed)
        ("alice@exa_mple.com", "not a valid domain"),
        ("alice@example..com", "not a valid domain"),
        ("alice@", "valid email"),
        ("@example.com", "valid email"),
        ("alice", "valid email"),
        ("a@b@example.com", "valid email"),
        ("a" * 65 + "@example.com", "valid email"),  # RFC 5321: 64 octets before the @
        ("a@" + "b" * 250 + ".com", "valid email"),
    ],
)
def test_addresses_that_are_not_one_are_refused_saying_why(spelling: str, says: str) -> None:
    with pytest.raises(EmailError) as refused:
        canonical(spelling)
    assert says in refused.value.message


def test_letters_of_any_script_and_internationalised_domains_are_kept_in_their_own_form() -> None:
    assert canonical("J\u00d6RG@B\u00dcCHER.de") == "j\u00f6rg@b\u00fccher.de"
    assert canonical("jo\u0308rg@xn--bcher-kva.de") == "j\u00f6rg@b\u00fccher.de"  # NFC, and the A-label read back
    assert canonical("o.k+tag_1@example.com") == "o.k+tag_1@example.com"


def test_a_sign_in_also_tries_how_older_accounts_were_kept() -> None:
    assert sign_in_forms(" Alice@Example.com ") == ["alice@example.com"]  # ASCII: one attempt
    assert sign_in_forms(f"{FULL_WIDTH_ALICE}@example.com") == ["alice@example.com", f"{FULL_WIDTH_ALICE}@example.com"]
    assert sign_in_forms("Alice\u200b@example.com") == ["alice\u200b@example.com"]  # refused now: the old form only
    assert sign_in_forms("no at sign") == []


ADDRESSES = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(st.characters(codec=None), min_size=1, max_size=20),
    st.text(st.characters(codec=None), min_size=1, max_size=20) | st.sampled_from(["example.com", "b\u00fccher.de"]),
)


@given(ADDRESSES)
def test_canonical_is_idempotent_and_keeps_nothing_invisible(address: str) -> None:
    try:
        once = canonical(address)
    except EmailError as exc:
        assert exc.message
        return
    assert canonical(once) == once
    assert once == once.strip() and len(once) <= emails.MAX_EMAIL
    assert not any(c.isspace() or ord(c) < 32 or "\u200b" <= c <= "\u200f" or "\u202a" <= c <= "\u202e" for c in once)


@given(st.from_regex(r"[a-z0-9._+-]{1,20}", fullmatch=True))
def test_full_width_letters_are_the_ascii_address(local: str) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in local)  # every printable ASCII has a full-width form
    try:
        ascii_form = canonical(f"{local}@example.com")
    except EmailError:
        return
    assert canonical(f"{full_width}@example.com") == ascii_form
