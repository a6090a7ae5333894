"""The app's collaborators (identity, store, hub, limits), chosen by settings and opened together.

Production back-ends are imported only when chosen, so the embedded install
needs none of their packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field

from quart_chat import people
from quart_chat.auth import IdentityProvider
from quart_chat.close_codes import Close
from quart_chat.connections import Connections
from quart_chat.hub import Hub
from quart_chat.limits import Limiter, Rate
from quart_chat.limits.accounts import SignInGuard, SignInRules
from quart_chat.limits.memory import MemoryLimiter
from quart_chat.membership import JoinPolicy, Members, Reads
from quart_chat.metrics import Metrics, TimedStore
from quart_chat.presence import PresenceTracker
from quart_chat.presence.memory import MemoryPresence
from quart_chat.presence.room import RoomPresence
from quart_chat.profiles import ProfileStore
from quart_chat.rendering import Renderer
from quart_chat.settings import Settings, SettingsError
from quart_chat.store import ChatStore, MessageStore, RoomStore


@dataclass
class Services:
    settings: Settings
    identity: IdentityProvider
    store: MessageStore
    hub: Hub
    profiles: ProfileStore
    # Who is here and who is typing, over the hub's signals (tracker in memory or Redis).
    presence: RoomPresence
    # Rooms, memberships and read cursors: the same object as the message store (one file, one database).
    rooms: RoomStore
    # Abuse limits, counted where the fan-out is: in this process, or in Redis across instances.
    limiter: Limiter = field(default_factory=MemoryLimiter)
    metrics: Metrics = field(default_factory=Metrics)
    # The live partials need the package's templates, not the app: the message path runs without one.
    renderer: Renderer = field(default_factory=Renderer)
    connections: Connections = field(default_factory=Connections)
    is_open: bool = False
    sign_in: SignInGuard = field(init=False)  # sign-in and sign-up throttles, on the limiter
    message_rate: Rate = field(init=False)  # one person's messages, all their sockets and posts together
    room_rate: Rate = field(init=False)  # rooms one person makes
    joins: JoinPolicy = field(init=False)  # rooms new to one person's sidebar: a rate and a cap
    # Each place's members (a short-lived cache) and the read cursors being written (membership.py).
    members: Members = field(init=False)
    reads: Reads = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.track_connections(lambda: len(self.connections))
        settings = self.settings
        rules = SignInRules.of(settings.sign_in_free_failures, settings.signups_per_hour)
        self.sign_in = SignInGuard(self.limiter, rules)
        self.message_rate = Rate(settings.messages_per_minute, 60.0, settings.message_burst)
        self.room_rate = Rate(settings.rooms_per_hour, 3600.0, settings.rooms_per_hour)
        joins = Rate(settings.joins_per_hour, 3600.0, settings.joins_per_hour)
        self.joins = JoinPolicy(self.limiter, joins, settings.max_memberships)
        self.members = Members(self.rooms, self.hub)
        self.reads = Reads(self.rooms, self.hub)

    async def open(self) -> None:
        """Open everything (once: ``python -m quart_chat`` opens before serving, the app's lifespan again).

        In dependency order; if one part fails, what was already open is closed again, last first.
        """
        if self.is_open:
            return
        async with AsyncExitStack() as undo:
            await self.store.open()
            undo.push_async_callback(self.store.close)
            await self.profiles.open()
            undo.push_async_callback(self.profiles.close)
            await self.identity.open()
            undo.push_async_callback(self.identity.close)
            await name_existing_accounts(self.identity, self.profiles)
            await self.hub.start()
            undo.push_async_callback(self.hub.stop)
            await self.presence.start()  # after the hub: it listens to the hub's signals
            undo.push_async_callback(self.presence.stop)
            await self.limiter.start()
            self.members.start()  # so does the member cache (who joined or left where)
            undo.pop_all()  # all open: keep them so
        self.is_open = True

    async def drain(self, timeout: float) -> None:
        """Close every live socket with 1012 so browsers reconnect elsewhere; wait for them."""
        self.connections.close_all(Close.SERVICE_RESTART, "server restart")
        await self.connections.wait_empty(timeout)

    async def close(self) -> None:
        """Close everything in reverse order; each part is closed even if an earlier one fails."""
        if not self.is_open:
            return
        self.is_open = False
        async with AsyncExitStack() as closing:  # callbacks run last-pushed first
            for close in (self.store.close, self.profiles.close, self.identity.close, self.hub.stop):
                closing.push_async_callback(close)
            closing.push_async_callback(self.presence.stop)  # before the hub: its last leaves still signal
            closing.push_async_callback(self.limiter.close)
            closing.push_async_callback(self.reads.stop)  # before the store: the last read cursors are written


async def name_existing_accounts(identity: IdentityProvider, profiles: ProfileStore) -> None:
    """The SQLite stack's migration to profiles: every local account without one gets one at start-up,
    named from its email's local part (oldest accounts first, so they keep the plain handles).

    Idempotent and safe with several processes (``ensure`` makes a profile once). A provider that
    cannot list its accounts (Firebase) names each person on first sign-in instead.
    """
    list_accounts = getattr(identity, "accounts", None)
    if list_accounts is None:
        return
    accounts = await list_accounts()
    named = await profiles.get_many(a.uid for a in accounts)
    for account in accounts:
        if account.uid not in named:
            await profiles.ensure(account.uid, people.name_from_email(account.email))


FIREBASE_EXTRA = "{choice} needs the firebase extra: pip install 'quart-chat[firebase]'."
REDIS_EXTRA = "{choice} needs the redis extra: pip install 'quart-chat[redis]'."


@contextmanager
def _extra(choice: str, message: str = FIREBASE_EXTRA) -> Iterator[None]:
    """Imports of an optional package: missing (or broken, e.g. urllib3 2 under pyrebase4), say how to install it.

    An ImportError of our own modules is a bug, not a missing extra, and is raised as it is.
    """
    try:
        yield
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "quart_chat":
            raise
        raise SettingsError(message.format(choice=choice)) from None


def build_identity(settings: Settings) -> IdentityProvider:
    if settings.auth == "firebase":
        with _extra("CHAT_AUTH=firebase"):
            from quart_chat.auth.firebase import FirebaseIdentity
        return FirebaseIdentity.from_settings(settings)
    from quart_chat.auth.local import LocalIdentity

    return LocalIdentity(
        settings.data_dir / "accounts.sqlite3",
        session_days=settings.session_days,
        hash_slots=settings.password_hashes,
        hash_wait=settings.password_hash_wait,
    )


def build_store(settings: Settings) -> ChatStore:
    if settings.store == "firestore":
        with _extra("CHAT_STORE=firestore"):
            from quart_chat.store.firestore import FirestoreStore
        return FirestoreStore.from_settings(settings)
    from quart_chat.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "chat.sqlite3")


def build_profiles(settings: Settings) -> ProfileStore:
    """Profiles live where the messages do: one choice (CHAT_STORE) for all chat data."""
    if settings.store == "firestore":
        with _extra("CHAT_STORE=firestore"):
            from quart_chat.profiles.firestore import FirestoreProfiles
        return FirestoreProfiles.from_settings(settings)
    from quart_chat.profiles.sqlite import SqliteProfiles

    return SqliteProfiles(settings.data_dir / "people.sqlite3")


def build_hub(settings: Settings) -> Hub:
    if settings.hub == "redis":
        with _extra("CHAT_HUB=redis", REDIS_EXTRA):
            from quart_chat.hub.redis import RedisHub
        return RedisHub(settings.redis_url, queue_size=settings.queue_size)
    from quart_chat.hub.memory import MemoryHub

    return MemoryHub(queue_size=settings.queue_size)


def build_presence_tracker(settings: Settings, hub: Hub) -> PresenceTracker:
    """Presence lives where the fan-out does: in Redis with the Redis hub, else in this process."""
    if settings.hub == "redis":
        from quart_chat.hub.redis import RedisHub
        from quart_chat.presence.redis import RedisPresence

        assert isinstance(hub, RedisHub)
        return RedisPresence(settings.redis_url, hub.instance_id)
    return MemoryPresence()


def build_limiter(settings: Settings) -> Limiter:
    """Limits are counted where the fan-out is: in Redis with the Redis hub (same CHAT_REDIS_URL), else here."""
    if settings.hub == "redis":
        from quart_chat.limits.redis import RedisLimiter

        return RedisLimiter(settings.redis_url)
    return MemoryLimiter()


def build_services(settings: Settings) -> Services:
    metrics = Metrics()
    stored = build_store(settings)
    hub, profiles, renderer = build_hub(settings), build_profiles(settings), Renderer()
    presence = RoomPresence(build_presence_tracker(settings, hub), hub, profiles, renderer)
    identity, limiter, timed = build_identity(settings), build_limiter(settings), TimedStore(stored, metrics)
    return Services(settings, identity, timed, hub, profiles, presence, stored, limiter, metrics, renderer)
