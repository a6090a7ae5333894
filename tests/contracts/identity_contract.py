"""The identity provider's behaviour, specified once and run against every provider.

A test module subclasses :class:`IdentityContract` and provides an ``identity``
fixture that yields an open provider with no accounts.
"""

from __future__ import annotations

import uuid

import pytest

from quart_chat.auth import EmailTaken, IdentityProvider, InvalidCredentials, WeakPassword


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


class IdentityContract:
    async def test_sign_up_then_verify_the_token(self, identity: IdentityProvider) -> None:
        email = new_email()
        signed = await identity.sign_up(email, "correct horse")
        assert signed.identity.email == email
        assert signed.identity.uid
        assert await identity.verify(signed.token) == signed.identity

    async def test_sign_in_with_the_right_password(self, identity: IdentityProvider) -> None:
        email = new_email()
        up = await identity.sign_up(email, "correct horse")
        signed = await identity.sign_in(email, "correct horse")
        assert signed.identity.uid == up.identity.uid
        assert await identity.verify(signed.token) == signed.identity

    async def test_email_is_case_insensitive_and_unique(self, identity: IdentityProvider) -> None:
        email = new_email()
        await identity.sign_up(email, "correct horse")
        with pytest.raises(EmailTaken):
            await identity.sign_up(email.upper(), "another one")
        signed = await identity.sign_in(email.upper(), "correct horse")
        assert signed.identity.email == email

    async def test_sign_up_for_a_taken_address_with_its_password_signs_in(self, identity: IdentityProvider) -> None:
        """Issue 12, finding 11: the right password proves the address; no second account is made."""
        email = new_email()
        first = await identity.sign_up(email, "correct horse")
        again = await identity.sign_up(email.upper(), "correct horse")
        assert again.existing and not first.existing
        assert again.identity == first.identity
        assert await identity.verify(again.token) == first.identity

    async def test_sign_up_for_a_taken_address_does_not_say_it_is_registered(self, identity: IdentityProvider) -> None:
        email = new_email()
        await identity.sign_up(email, "correct horse")
        with pytest.raises(EmailTaken) as taken:
            await identity.sign_up(email, "another one")
        assert "registered" not in taken.value.message and "exists" not in taken.value.message
        assert taken.value.status == 400

    async def test_wrong_password_and_unknown_email_say_the_same(self, identity: IdentityProvider) -> None:
        email = new_email()
        await identity.sign_up(email, "correct horse")
        with pytest.raises(InvalidCredentials) as wrong:
            await identity.sign_in(email, "wrong horse")
        with pytest.raises(InvalidCredentials) as unknown:
            await identity.sign_in(new_email(), "correct horse")
        assert wrong.value.message == unknown.value.message

    async def test_weak_password_is_refused_and_no_account_is_made(self, identity: IdentityProvider) -> None:
        email = new_email()
        with pytest.raises(WeakPassword):
            await identity.sign_up(email, "12345")
        with pytest.raises(InvalidCredentials):
            await identity.sign_in(email, "12345")

    async def test_forged_or_garbage_token_is_not_an_identity(self, identity: IdentityProvider) -> None:
        assert await identity.verify("garbage") is None
        assert await identity.verify("") is None

    async def test_sign_out_ends_the_session(self, identity: IdentityProvider) -> None:
        signed = await identity.sign_up(new_email(), "correct horse")
        await identity.sign_out(signed.token)
        assert await identity.verify(signed.token, check_revoked=True) is None
