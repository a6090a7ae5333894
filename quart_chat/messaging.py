"""Accepting a message: store it, then broadcast what its row needs; and reading rows to show.

Nothing is broadcast before the store has it, so what others see is always
what was stored; a store failure raises and nothing is sent on. The author is stored by
their display name (never their email) and shown by their current profile.

Grouping and day dividers depend on the row before each one in the store's order, so every
read here also fetches that one row: the live row reads its predecessor after it is stored,
and a page reads one row more than it shows.

A send may carry the composer's one-time ``client_id``: the same frame re-sent (htmx after a
reconnect, a browser re-posting a form) then lands once and is broadcast once.

Every send counts against its author's message rate first (``services.message_rate``, on the
shared limiter): one limit per person over all their sockets and no-JS posts, on every instance.

Its ``@handle`` mentions are resolved once, here, and stored with it. After the broadcast every
member of the place hears of it on their own hub channel (their sidebars' counts), see
``membership.after_message``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from quart_chat import membership, people
from quart_chat.hub import Broadcast
from quart_chat.live_protocol import ReadAfter, ReadLatest
from quart_chat.mentions import handles_in
from quart_chat.models import Identity, Message, Profile
from quart_chat.places import Place
from quart_chat.profiles import ProfileError
from quart_chat.rows import Author, author_of, row_after
from quart_chat.services import Services
from quart_chat.store import StoreError

log = logging.getLogger(__name__)


class SendingTooFast(Exception):
    """The author is past their message rate; nothing was stored. ``wait``: seconds until they may send."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"sending too fast; wait {wait:.1f} s")
        self.wait = wait


def message_id_for(author_uid: str, room: str, client_id: str) -> str:
    """The store's idempotency key for a composer's one-time id, scoped to its author and room.

    Scoped by hashing rather than by checking the author on a hit: another user who replays
    someone's ``client_id`` gets a different key, so their send is simply their own new
    message and can neither alter nor claim (nor learn anything about) the first one.
    """
    scoped = "\0".join((author_uid, room, client_id)).encode("utf-8")
    return hashlib.sha256(scoped).hexdigest()[:32]


async def send_message(
    services: Services, place: Place | str, author: Identity, text: str, *, client_id: str | None = None
) -> Message:
    """Store, broadcast, tell the members; ``place`` a Place, or a public room's name."""
    place = place if isinstance(place, Place) else Place.room(place)
    room = place.key
    wait = await services.limiter.take(f"messages:{author.uid}", services.message_rate)
    if wait:
        raise SendingTooFast(wait)
    message_id = message_id_for(author.uid, room, client_id) if client_id is not None else None
    profile = await _author_profile(services, author)
    name = profile.display_name if profile else people.name_from_email(author.email)
    mentions = await _mentions(services, text)
    message = await services.store.add(room, author.uid, name, text, message_id=message_id, mentions=mentions)
    if message.replayed:  # stored (and broadcast) by the first send already
        return message
    try:
        before = await services.store.before(room, message.cursor, 1)
    except StoreError:  # stored already: the row shows ungrouped live, grouped after a reload
        log.warning("could not read the row before id=%s room=%s", message.id, room)
        before = []
    shown = Author.of(profile) if profile else author_of(message, {})
    row = row_after(before[-1] if before else None, message, shown)
    try:
        await services.hub.publish(Broadcast(row, time.time()))
    except Exception:  # stored already: sockets catch up on resync or reconnect
        log.exception("publish failed for stored message id=%s room=%s", message.id, room)
    try:
        await membership.after_message(
            services.rooms, services.members, services.hub, place, message, services.joins
        )
    except StoreError:  # stored already: sidebars count it when they are next read
        log.warning("members not told of message id=%s room=%s", message.id, room, exc_info=True)
    return message


async def _mentions(services: Services, text: str) -> list[tuple[str, str]]:
    """The (handle, uid) of each ``@handle`` that is somebody's now (a few reads, only for text with @)."""
    found = []
    for handle in handles_in(text):
        try:
            person = await services.profiles.by_handle(handle)
        except ProfileError:
            log.warning("profiles unavailable; @%s stays text", handle)
            return found
        if person is not None:
            found.append((handle, person.uid))
    return found


async def _author_profile(services: Services, author: Identity) -> Profile | None:
    """The sender's current profile (a renamed author's new rows show the new name at once)."""
    try:
        return await services.profiles.ensure(author.uid, people.name_from_email(author.email))
    except ProfileError:  # people are unreachable: still send, by the email's local part
        log.warning("profile unavailable for uid=%s; sending by the default name", author.uid)
        return None


async def profiles_for(services: Services, messages: Iterable[Message]) -> dict[str, Profile]:
    """The current profiles of these rows' authors (one read for the lot)."""
    uids = {m.author_uid for m in messages}
    return await services.profiles.get_many(uids) if uids else {}


@dataclass(frozen=True, slots=True)
class Read:
    """What the live core asked to read, with what its rows need: the row before, the authors."""

    messages: list[Message]
    previous: Message | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


async def read_for(services: Services, room: str, need: ReadAfter | ReadLatest) -> Read:
    """The live shell's store read (catch-up, resync, reset); raises :class:`StoreError`.

    A reset (``ReadLatest``) reads one row more than it shows already; a catch-up that the core
    will show (not over its limit) also reads the row before its first. Profiles that cannot be
    read leave the rows named by their stored names rather than failing the socket.
    """
    store = services.store
    if isinstance(need, ReadAfter):
        messages = await store.after(room, need.cursor, need.limit)
        previous = None
        if messages and len(messages) < need.limit:
            before = await store.before(room, messages[0].cursor, 1)
            previous = before[-1] if before else None
    else:
        messages, previous = await store.latest(room, need.limit), None
    try:
        profiles = await profiles_for(services, messages)
    except ProfileError:
        log.warning("profiles unavailable for catch-up in room=%s; rows show stored names", room)
        profiles = {}
    return Read(messages, previous, profiles)
