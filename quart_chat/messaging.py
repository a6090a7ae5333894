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

import asyncio
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
from quart_chat.rows import Author, Row, author_of, row_after
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


class NoSuchMessage(Exception):
    """No message of that id in the place (or it was deleted): a 404, nothing changed."""


class NotYours(Exception):
    """The message is someone else's: a 403, nothing changed."""


async def edit_message(services: Services, place: Place, author: Identity, message_id: str, text: str) -> Row:
    """Replace the text of one's own message, then broadcast its new version to the place.

    ``text`` is already cleaned (``validation.clean_text``, like a new message's); the edit counts
    against the same per-person message rate. Its ``@handle`` mentions are resolved again. Members'
    sidebars are not told again: an edit is not news, and the row itself changes in place.
    """
    await _own_message(services, place, author, message_id)
    wait = await services.limiter.take(f"messages:{author.uid}", services.message_rate)
    if wait:
        raise SendingTooFast(wait)
    mentions = await _mentions(services, text)
    changed = await services.store.edit(place.key, message_id, author.uid, text, mentions)
    if changed is None:  # deleted in between
        raise NoSuchMessage(message_id)
    return await _broadcast_change(services, changed)


async def delete_message(services: Services, place: Place, author: Identity, message_id: str) -> Row:
    """Delete one's own message: the store erases its text, every page shows "message deleted"."""
    await _own_message(services, place, author, message_id)
    wait = await services.limiter.take(f"messages:{author.uid}", services.message_rate)
    if wait:
        raise SendingTooFast(wait)
    changed = await services.store.delete(place.key, message_id, author.uid)
    if changed is None:
        raise NoSuchMessage(message_id)
    return await _broadcast_change(services, changed)


async def _own_message(services: Services, place: Place, author: Identity, message_id: str) -> Message:
    """The author's live message here; else NoSuchMessage (unknown, deleted) or NotYours."""
    message = await services.store.get(place.key, message_id)
    if message is None or message.deleted:
        raise NoSuchMessage(message_id)
    if message.author_uid != author.uid:
        raise NotYours(message_id)
    return message


async def _broadcast_change(services: Services, message: Message) -> Row:
    """The changed row, grouped as in every page (the row before it), published like a new one.

    Stored first, published after: what others see is what is stored. A failed publish leaves the
    change for the sockets' catch-up (the change cursor) to deliver.
    """
    try:
        before = await services.store.before(message.room, message.cursor, 1)
    except StoreError:
        before = []
    try:
        profiles = await profiles_for(services, [message])
    except ProfileError:
        profiles = {}
    row = row_after(before[-1] if before else None, message, author_of(message, profiles))
    try:
        await services.hub.publish(Broadcast(row, time.time()))
    except Exception:
        log.exception("publish failed for changed message id=%s room=%s", message.id, message.room)
    return row


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
    changes: list[tuple[Message, Message | None]] = field(default_factory=list)  # (changed row, row before)


async def read_for(services: Services, room: str, need: ReadAfter | ReadLatest) -> Read:
    """The live shell's store read (catch-up, resync, reset); raises :class:`StoreError`.

    A reset (``ReadLatest``) reads one row more than it shows already; a catch-up that the core
    will show (not over its limit) also reads the row before its first. Profiles that cannot be
    read leave the rows named by their stored names rather than failing the socket.
    """
    store = services.store
    changes: list[tuple[Message, Message | None]] = []
    if isinstance(need, ReadAfter):
        messages = await store.after(room, need.cursor, need.limit)
        previous = None
        if messages and len(messages) < need.limit:
            before = await store.before(room, messages[0].cursor, 1)
            previous = before[-1] if before else None
        if need.changes_since is not None and len(messages) < need.limit:
            changes = await _changes_since(services, room, need.changes_since, need.limit)
    else:
        messages, previous = await store.latest(room, need.limit), None
    try:
        profiles = await profiles_for(services, [*messages, *(m for m, _ in changes)])
    except ProfileError:
        log.warning("profiles unavailable for catch-up in room=%s; rows show stored names", room)
        profiles = {}
    return Read(messages, previous, profiles, changes)


CHANGE_READS = 8  # rows before changed rows read at once: a long catch-up never floods the store


async def _changes_since(
    services: Services, room: str, since: int, limit: int
) -> list[tuple[Message, Message | None]]:
    """The rows changed since ``since``, each with the row before it (so it groups as everywhere).

    A list of ``limit`` (one more than the core shows) is returned without those reads: the core
    resets the page instead.
    """
    changed = await services.store.changes(room, since, limit)
    if len(changed) >= limit:
        return [(m, None) for m in changed]
    latest = {m.id: m for m in changed}  # the newest version of each, in the order it last changed
    ordered = sorted(latest.values(), key=lambda m: m.version)
    pairs: list[tuple[Message, Message | None]] = []
    for start in range(0, len(ordered), CHANGE_READS):
        chunk = ordered[start : start + CHANGE_READS]
        befores = await asyncio.gather(*(services.store.before(room, m.cursor, 1) for m in chunk))
        pairs.extend((m, b[-1] if b else None) for m, b in zip(chunk, befores, strict=True))
    return pairs
