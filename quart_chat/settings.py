"""All settings in one place, typed, read from environment variables.

Every setting has a default that works out of the box (local accounts, SQLite
in ./data, the in-memory hub, one process). Production choices come from the
environment; nothing secret is ever written into the code or the image.

Each setting is declared once, as a :class:`Settings` field made by
:func:`setting`: its variable(s), default, parser (with its bounds or choices)
and a one-line doc. (The emulator hosts, for development and tests, are
declared as :class:`Setting` constants instead; see below.) Parsing, the error
messages and the README's settings table all come from the declarations;
``python -m quart_chat.settings`` prints the table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

Parser = Callable[[str, str], Any]
"""Turns (variable name, raw value) into the setting's value, or raises :class:`SettingsError`."""


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one sentence naming the variable."""


# --- parsers ---------------------------------------------------------------------------


def text(name: str, raw: str) -> str:
    return raw


def path(name: str, raw: str) -> Path:
    return Path(raw)


def host_port(name: str, raw: str) -> str | None:
    """An emulator's ``host:port``; blank is unset, as for the Google libraries."""
    return raw.strip() or None


def flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}.")


def origins(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated origins, each without surrounding spaces or a trailing slash."""
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


@dataclass(frozen=True, slots=True)
class Bounded:
    """A whole number (``kind=int``) or a number (``kind=float``) from ``low`` to ``high``, inclusive."""

    kind: type[int] | type[float]
    low: float
    high: float

    def __call__(self, name: str, raw: str) -> int | float:
        try:
            value = self.kind(raw)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise SettingsError(f"{name} must be {what}, not {raw!r}.") from None
        if not self.low <= value <= self.high:
            raise SettingsError(f"{name} must be between {self.low} and {self.high}, not {value}.")
        return value


def whole(low: int, high: int) -> Bounded:
    return Bounded(int, low, high)


def number(low: float, high: float) -> Bounded:
    return Bounded(float, low, high)


@dataclass(frozen=True, slots=True)
class Token:
    """A secret sent in a header: at least ``min_chars`` printable ASCII characters, no spaces."""

    min_chars: int

    def __call__(self, name: str, raw: str) -> str:
        value = raw.strip()
        if len(value) < self.min_chars or not all("!" <= c <= "~" for c in value):
            raise SettingsError(
                f"{name} must be at least {self.min_chars} printable ASCII characters without spaces "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
            )
        return value


@dataclass(frozen=True, slots=True)
class OneOf:
    """One of a few lower-case words; the input's case and surrounding spaces do not matter."""

    choices: tuple[str, ...]

    def __call__(self, name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in self.choices:
            raise SettingsError(f"{name} must be one of {', '.join(self.choices)}, not {raw!r}.")
        return value


# --- declarations ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting's declaration: its variable and fallbacks, default, parser and README line."""

    env: tuple[str, ...]  # the first of these that is set and not empty is read
    default: Any
    parse: Parser
    doc: str
    shown: str | None = None  # the default as the README shows it, when the value itself would not say it
    development: bool = False  # for development and tests only, never set in production

    @property
    def label(self) -> str:
        return " / ".join(self.env)

    def given(self, env: Mapping[str, str]) -> tuple[str, str] | None:
        """The variable that is set (the first, when fallbacks are) and its raw value, or None."""
        for name in self.env:
            raw = env.get(name)
            if raw:
                return name, raw
        return None

    def read(self, env: Mapping[str, str]) -> Any:
        given = self.given(env)
        return self.default if given is None else self.parse(*given)

    def readme_row(self) -> str:
        return f"| `{self.label}` | {self.shown or _show(self.default)} | {self.doc} |"


def _show(default: object) -> str:
    if default is None or default == ():
        return "(none)"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def setting[T](
    *env: str,
    default: T,
    doc: str,
    parse: Parser = text,
    shown: str | None = None,
    secret: bool = False,
) -> T:
    """A :class:`Settings` field that carries its declaration (typed as its value, like ``field()``).

    A ``secret`` one is left out of ``repr(settings)``, so a logged or printed Settings never shows it.
    """
    declaration = Setting(env, default, parse, doc, shown)
    return field(default=default, metadata={"setting": declaration}, repr=not secret)


@dataclass(frozen=True, slots=True)
class Settings:
    """The app's configuration; ``Settings.from_env()`` reads it, tests build it directly."""

    data_dir: Path = setting("CHAT_DATA_DIR", default=Path("data"), parse=path, shown="./data",
        doc="Folder for the SQLite files and the generated secret key.")
    host: str = setting("CHAT_HOST", default="127.0.0.1",
        doc="Address Hypercorn binds to (0.0.0.0 to reach it from other devices).")
    port: int = setting("CHAT_PORT", "PORT", default=8000, parse=whole(1, 65535),
        doc="Port to serve on; Beanstalk's PORT is honoured when CHAT_PORT is unset.")
    secret_key: str | None = setting("CHAT_SECRET_KEY", default=None, shown="generated", secret=True,
        doc="Signs session cookies; unset: generated once into DATA_DIR/secret_key (0600).")
    auth: str = setting("CHAT_AUTH", default="local", parse=OneOf(("local", "firebase")),
        doc="Identity provider: local (argon2id in SQLite) or firebase.")
    store: str = setting("CHAT_STORE", default="sqlite", parse=OneOf(("sqlite", "firestore")),
        doc="Message store: sqlite or firestore.")
    hub: str = setting("CHAT_HUB", default="memory", parse=OneOf(("memory", "redis")),
        doc="Fan-out: memory (one process) or redis (many processes/instances).")
    redis_url: str = setting("CHAT_REDIS_URL", default="redis://127.0.0.1:6379/0",
        doc="Redis for CHAT_HUB=redis.")
    allowed_origins: tuple[str, ...] = setting("CHAT_ALLOWED_ORIGINS", default=(), parse=origins,
        doc="Extra origins allowed to open the WebSocket, comma-separated.")
    secure_cookies: bool = setting("CHAT_SECURE_COOKIES", default=False, parse=flag,
        doc="Mark cookies Secure (turn on behind HTTPS).")
    log_json: bool = setting("CHAT_LOG_JSON", default=False, parse=flag,
        doc="Log one JSON object per line.")
    hypercorn_config: Path | None = setting("CHAT_HYPERCORN_CONFIG", default=None, parse=path,
        doc="Hypercorn TOML file (the image's is deploy/hypercorn.toml); CHAT_* variables that are set win over it.")
    # Limits and timings: whole numbers or numbers, each within its bounds.
    max_message_chars: int = setting("CHAT_MAX_MESSAGE_CHARS", default=2000, parse=whole(1, 100_000),
        doc="Longest message accepted, in characters.")
    history_page_size: int = setting("CHAT_HISTORY_PAGE_SIZE", default=50, parse=whole(1, 500),
        doc="Messages shown on open and per 'older' page.")
    catchup_limit: int = setting("CHAT_CATCHUP_LIMIT", default=500, parse=whole(1, 10_000),
        doc="Most rows resent on reconnect before the view is reset to the latest page.")
    # Abuse limits (README "Hostile clients"); the old CHAT_RATE_LIMIT_* names are still read.
    messages_per_minute: int = setting("CHAT_MESSAGES_PER_MINUTE", "CHAT_RATE_LIMIT_PER_MINUTE", default=60,
        parse=whole(1, 100_000),
        doc="Messages per minute per person, all their sockets and no-JS posts together (sustained).")
    message_burst: int = setting("CHAT_MESSAGE_BURST", "CHAT_RATE_LIMIT_BURST", default=10, parse=whole(1, 100_000),
        doc="Messages a person may send at once before the per-minute rate applies.")
    frames_per_minute: int = setting("CHAT_FRAMES_PER_MINUTE", default=300, parse=whole(30, 100_000),
        doc="WebSocket frames of any kind per minute per socket (a tenth of it at once); past it: closed 1008.")
    max_sockets_per_person: int = setting("CHAT_MAX_SOCKETS_PER_PERSON", default=20, parse=whole(1, 1000),
        doc="Live sockets (tabs, rooms) one person may hold open on all instances; a newer one is refused 1008.")
    sign_in_free_failures: int = setting("CHAT_SIGN_IN_FREE_FAILURES", default=5, parse=whole(1, 1000),
        doc="Wrong passwords per account and address before sign-in backs off (1 s, doubling, at most 15 min).")
    signups_per_hour: int = setting("CHAT_SIGNUPS_PER_HOUR", default=10, parse=whole(1, 100_000),
        doc="Sign-ups per client address per hour (all at once, or spread out).")
    rooms_per_hour: int = setting("CHAT_ROOMS_PER_HOUR", default=10, parse=whole(1, 100_000),
        doc="Rooms one person may make per hour (all at once, or spread out); past it: 429 with Retry-After.")
    joins_per_hour: int = setting("CHAT_JOINS_PER_HOUR", default=60, parse=whole(1, 100_000),
        doc="Rooms new to a person's sidebar per hour (all at once, or spread out); past it: 429 with Retry-After.")
    max_memberships: int = setting("CHAT_MAX_MEMBERSHIPS", default=500, parse=whole(1, 100_000),
        doc="Rooms one person's sidebar holds; past it a room opens without joining (conversations never count).")
    password_hashes: int = setting("CHAT_PASSWORD_HASHES", default=os.process_cpu_count() or 1, parse=whole(1, 256),
        shown="CPU count", doc="Password hashes (64 MiB each) one process runs at once; more wait, then get 503.")
    password_hash_wait: float = setting("CHAT_PASSWORD_HASH_WAIT", default=1.0, parse=number(0, 30),
        doc="Seconds a sign-in waits for a free hashing slot before it gets 503 with Retry-After.")
    queue_size: int = setting("CHAT_QUEUE_SIZE", default=256, parse=whole(1, 100_000),
        doc="Rows queued per connection before it is closed as a slow consumer (1013).")
    max_frame_bytes: int = setting("CHAT_MAX_FRAME_BYTES", default=65536, parse=whole(1024, 16_777_216),  # 16 MiB
        doc="Largest WebSocket frame accepted from a browser.")
    ws_ping_interval: float = setting("CHAT_WS_PING_INTERVAL", default=20.0, parse=number(1, 3600),
        doc="Seconds between WebSocket pings (keep under the proxy idle timeout).")
    ws_pong_timeout: float = setting("CHAT_WS_PONG_TIMEOUT", default=20.0, parse=number(1, 3600),
        doc="Seconds a browser has to answer a ping before its connection is dropped (a frozen or vanished tab).")
    send_timeout: float = setting("CHAT_SEND_TIMEOUT", default=10.0, parse=number(1, 600),
        doc="Seconds a client may take to accept what the server writes (or to answer its close) before it is dropped.")
    heartbeat_interval: float = setting("CHAT_HEARTBEAT_INTERVAL", default=5.0, parse=number(0.1, 10),
        doc="Seconds between live-status refreshes (at most 10; see chat.css).")
    workers: int = setting("CHAT_WORKERS", default=1, parse=whole(1, 64),
        doc="Hypercorn worker processes (more than 1 needs CHAT_HUB=redis).")
    graceful_timeout: float = setting("CHAT_GRACEFUL_TIMEOUT", default=10.0, parse=number(0, 600),
        doc="Seconds to drain on shutdown before sockets are cut.")
    trusted_proxies: int = setting("CHAT_TRUSTED_PROXIES", default=0, parse=whole(0, 10),
        doc="How many proxies' X-Forwarded-* headers to trust (2 on Beanstalk: the ALB and nginx).")
    metrics_token: str | None = setting("CHAT_METRICS_TOKEN", default=None, parse=Token(16), secret=True,
        doc="Bearer token /metrics asks of everyone when set; unset, it answers loopback and private networks only.")
    session_days: int = setting("CHAT_SESSION_DAYS", default=5, parse=whole(1, 14),
        doc="How long a sign-in lasts.")
    revocation_check_interval: float = setting("CHAT_REVOCATION_CHECK_INTERVAL", default=300.0, parse=number(1, 86400),
        doc="Seconds between re-checks that an open socket's user is still signed in (1 or more).")
    # Firebase (CHAT_AUTH=firebase / CHAT_STORE=firestore); standard variable names.
    firebase_web_api_key: str | None = setting("FIREBASE_WEB_API_KEY", default=None,
        doc="Web API key for pyrebase4 sign-in (CHAT_AUTH=firebase).")
    firebase_project_id: str | None = setting("FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", default=None,
        doc="Firebase/Google Cloud project id; GOOGLE_CLOUD_PROJECT is used when FIREBASE_PROJECT_ID is unset.")
    google_application_credentials: str | None = setting("GOOGLE_APPLICATION_CREDENTIALS", default=None,
        doc="Path to the service-account JSON for firebase-admin.")
    firebase_service_account_json: str | None = setting("FIREBASE_SERVICE_ACCOUNT_JSON", default=None, secret=True,
        doc="The service-account JSON itself (a Beanstalk secret); wins over the path.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment; raise :class:`SettingsError` on bad input."""
        env = os.environ if env is None else env
        return cls(**{name: declaration.read(env) for name, declaration in FIELDS.items()})


FIELDS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(Settings)}
"""Each :class:`Settings` field's declaration, by field name, in the README's order."""

# Read from os.environ where they are used, not into Settings: firebase-admin and
# google-cloud-firestore read these same variables from the process environment themselves,
# so the process environment must stay the one truth for them.
FIREBASE_AUTH_EMULATOR_HOST = Setting(
    ("FIREBASE_AUTH_EMULATOR_HOST",), None, host_port, development=True,
    doc="Development and tests only: host:port of the Firebase Auth emulator, used instead of Google "
    "(no API key or service account is needed then).",
)
FIRESTORE_EMULATOR_HOST = Setting(
    ("FIRESTORE_EMULATOR_HOST",), None, host_port, development=True,
    doc="Development and tests only: host:port of the Firestore emulator, used instead of Google "
    "(no service account is needed then).",
)

SETTINGS: tuple[Setting, ...] = (*FIELDS.values(), FIREBASE_AUTH_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST)
"""Every environment variable the app reads, in the README table's order."""


def readme_table() -> str:
    """The README's settings table, in Markdown."""
    rows = [declaration.readme_row() for declaration in SETTINGS]
    return "\n".join(["| variable | default | what it does |", "|---|---|---|", *rows])


if __name__ == "__main__":
    print(readme_table())
