"""Sign-in and sign-up throttles (issue 12, finding 1), after OWASP's advice on online guessing.

Three back-offs, each a few free failures and then waits that double (never a lock-out: every
wait ends, and the account's own is short):

- **one account from one client address** (``pair``): a guesser at one address against one account;
- **one address, every account** (``address``, looser): one address spraying many accounts;
- **one account, every address** (``account``, looser still, its wait at most 30 s): a guesser
  spread over many addresses. Its wait is short because an attacker can keep it running: it must
  cost the real owner seconds, not the account. A browser that has signed in to the account
  before (a device cookie, see ``web/devices.py``) skips it altogether, as OWASP's device cookies do.

A success forgives the pair and the account (not the address: one good account must not reset an
address that sprays others). A throttled answer is given before the account is looked up or any
hash runs, and the keys depend on the typed email, never on whether it has an account, so the
answer (429, its words, its timing) is the same either way. Sign-ups are a rate per address.
Emails are keyed by a hash (the limiter's keys never hold an address's owner); an IPv6 client is
keyed by its /64 (one host usually has all of it).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from quart_chat.auth import EmailTaken, InvalidCredentials, TooManyAttempts
from quart_chat.limits import Backoff, Limiter, Rate, seconds

MINUTE, HOUR = 60.0, 3600.0


@dataclass(frozen=True, slots=True)
class SignInRules:
    pair: Backoff
    address: Backoff
    account: Backoff
    signups: Rate

    @classmethod
    def of(cls, free_failures: int, signups_per_hour: int) -> SignInRules:
        """The app's rules from its two settings (``CHAT_SIGN_IN_FREE_FAILURES``, ``CHAT_SIGNUPS_PER_HOUR``)."""
        return cls(
            pair=Backoff(free=free_failures, base=1.0, cap=15 * MINUTE, forget=HOUR),
            address=Backoff(free=4 * free_failures, base=1.0, cap=15 * MINUTE, forget=HOUR),
            account=Backoff(free=2 * free_failures, base=1.0, cap=30.0, forget=HOUR),
            signups=Rate(count=signups_per_hour, period=HOUR, burst=signups_per_hour),
        )


def account_key(email: str) -> str:
    """The key of a typed email: a hash of its normal form (the limiter never stores emails)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def address_key(address: str | None) -> str:
    """A client address as a key: IPv4 as it is, IPv6 by its /64, anything unparsable as itself."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class SignInGuard:
    def __init__(self, limiter: Limiter, rules: SignInRules) -> None:
        self.limiter = limiter
        self.rules = rules

    def _keys(self, email: str, address: str | None, trusted: bool) -> list[tuple[str, Backoff]]:
        account, where = account_key(email), address_key(address)
        keys = [(f"signin:pair:{account}:{where}", self.rules.pair), (f"signin:addr:{where}", self.rules.address)]
        if not trusted:
            keys.append((f"signin:acct:{account}", self.rules.account))
        return keys

    async def check(self, email: str, address: str | None, *, trusted: bool = False) -> None:
        """Raise :class:`TooManyAttempts` (with the longest wait) if any of the back-offs is running."""
        wait = max([await self.limiter.blocked(key) for key, _ in self._keys(email, address, trusted)])
        if wait > 0:
            raise TooManyAttempts(seconds(wait))

    async def failed(self, email: str, address: str | None, *, trusted: bool = False) -> None:
        for key, backoff in self._keys(email, address, trusted):
            await self.limiter.fail(key, backoff)

    async def succeeded(self, email: str, address: str | None) -> None:
        account = account_key(email)
        await self.limiter.forgive(f"signin:pair:{account}:{address_key(address)}")
        await self.limiter.forgive(f"signin:acct:{account}")

    @asynccontextmanager
    async def attempt(self, email: str, address: str | None, *, trusted: bool = False) -> AsyncIterator[None]:
        """Around one password check: refused while throttled; a wrong password counts, a success forgives.

        A sign-up for a taken address with another password (:class:`EmailTaken`) is a wrong password too:
        it is a guess at that account. Anything else (busy, unavailable) counts for nothing.
        """
        await self.check(email, address, trusted=trusted)
        try:
            yield
        except (InvalidCredentials, EmailTaken):
            await self.failed(email, address, trusted=trusted)
            raise
        await self.succeeded(email, address)

    async def sign_up(self, address: str | None) -> None:
        """Count one sign-up from this address; :class:`TooManyAttempts` past the hourly rate."""
        wait = await self.limiter.take(f"signup:{address_key(address)}", self.rules.signups)
        if wait > 0:
            raise TooManyAttempts(seconds(wait))
