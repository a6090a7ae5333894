"""All settings in one place, typed, read from ``CHAT_*`` environment variables.

Every setting has a default that works out of the box (local accounts, SQLite
in ./data, the in-memory hub, one process). Production choices come from the
environment; nothing secret is ever written into the code or the image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

AUTH_CHOICES = ("local", "firebase")
STORE_CHOICES = ("sqlite", "firestore")
HUB_CHOICES = ("memory", "redis")


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one sentence naming the variable."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}.")


def _int(name: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def _float(name: str, raw: str, minimum: float, maximum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """The app's configuration; ``Settings.from_env()`` reads it, tests build it directly."""

    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = None  # None: generated once and kept in data_dir
    auth: str = "local"
    store: str = "sqlite"
    hub: str = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    allowed_origins: tuple[str, ...] = ()
    secure_cookies: bool = False
    max_message_chars: int = 2000
    history_page_size: int = 50
    catchup_limit: int = 500
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 10
    queue_size: int = 256
    ws_ping_interval: float = 20.0
    heartbeat_interval: float = 5.0
    max_frame_bytes: int = 65536
    workers: int = 1
    graceful_timeout: float = 10.0
    trusted_proxies: int = 0
    log_json: bool = False
    # Firebase (CHAT_AUTH=firebase / CHAT_STORE=firestore); standard variable names.
    firebase_web_api_key: str | None = None
    firebase_project_id: str | None = None
    google_application_credentials: str | None = None
    firebase_service_account_json: str | None = None
    session_days: int = 5
    revocation_check_interval: float = 300.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from the environment; raise :class:`SettingsError` on bad input."""
        env = os.environ if env is None else env
        d = cls()

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        port_raw = get("CHAT_PORT") or get("PORT")
        port_name = "CHAT_PORT" if get("CHAT_PORT") else "PORT"
        origins = get("CHAT_ALLOWED_ORIGINS")
        return cls(
            data_dir=Path(get("CHAT_DATA_DIR") or d.data_dir),
            host=get("CHAT_HOST") or d.host,
            port=_int(port_name, port_raw, 1, 65535) if port_raw else d.port,
            secret_key=get("CHAT_SECRET_KEY"),
            auth=_choice("CHAT_AUTH", get("CHAT_AUTH") or d.auth, AUTH_CHOICES),
            store=_choice("CHAT_STORE", get("CHAT_STORE") or d.store, STORE_CHOICES),
            hub=_choice("CHAT_HUB", get("CHAT_HUB") or d.hub, HUB_CHOICES),
            redis_url=get("CHAT_REDIS_URL") or d.redis_url,
            allowed_origins=tuple(
                o.strip().rstrip("/") for o in (origins or "").split(",") if o.strip()
            ),
            secure_cookies=_bool("CHAT_SECURE_COOKIES", get("CHAT_SECURE_COOKIES") or "0"),
            max_message_chars=_int(
                "CHAT_MAX_MESSAGE_CHARS", get("CHAT_MAX_MESSAGE_CHARS") or str(d.max_message_chars), 1, 100_000
            ),
            history_page_size=_int(
                "CHAT_HISTORY_PAGE_SIZE", get("CHAT_HISTORY_PAGE_SIZE") or str(d.history_page_size), 1, 500
            ),
            catchup_limit=_int(
                "CHAT_CATCHUP_LIMIT", get("CHAT_CATCHUP_LIMIT") or str(d.catchup_limit), 1, 10_000
            ),
            rate_limit_per_minute=_int(
                "CHAT_RATE_LIMIT_PER_MINUTE",
                get("CHAT_RATE_LIMIT_PER_MINUTE") or str(d.rate_limit_per_minute),
                1,
                100_000,
            ),
            rate_limit_burst=_int(
                "CHAT_RATE_LIMIT_BURST", get("CHAT_RATE_LIMIT_BURST") or str(d.rate_limit_burst), 1, 100_000
            ),
            queue_size=_int("CHAT_QUEUE_SIZE", get("CHAT_QUEUE_SIZE") or str(d.queue_size), 1, 100_000),
            ws_ping_interval=_float(
                "CHAT_WS_PING_INTERVAL", get("CHAT_WS_PING_INTERVAL") or str(d.ws_ping_interval), 1, 3600
            ),
            heartbeat_interval=_float(
                "CHAT_HEARTBEAT_INTERVAL", get("CHAT_HEARTBEAT_INTERVAL") or str(d.heartbeat_interval), 0.1, 10
            ),
            max_frame_bytes=_int(
                "CHAT_MAX_FRAME_BYTES", get("CHAT_MAX_FRAME_BYTES") or str(d.max_frame_bytes), 1024, 16 * 2**20
            ),
            workers=_int("CHAT_WORKERS", get("CHAT_WORKERS") or str(d.workers), 1, 64),
            graceful_timeout=_float(
                "CHAT_GRACEFUL_TIMEOUT", get("CHAT_GRACEFUL_TIMEOUT") or str(d.graceful_timeout), 0, 600
            ),
            trusted_proxies=_int("CHAT_TRUSTED_PROXIES", get("CHAT_TRUSTED_PROXIES") or "0", 0, 10),
            log_json=_bool("CHAT_LOG_JSON", get("CHAT_LOG_JSON") or "0"),
            firebase_web_api_key=get("FIREBASE_WEB_API_KEY"),
            firebase_project_id=get("FIREBASE_PROJECT_ID") or get("GOOGLE_CLOUD_PROJECT"),
            google_application_credentials=get("GOOGLE_APPLICATION_CREDENTIALS"),
            firebase_service_account_json=get("FIREBASE_SERVICE_ACCOUNT_JSON"),
            session_days=_int("CHAT_SESSION_DAYS", get("CHAT_SESSION_DAYS") or str(d.session_days), 1, 14),
            revocation_check_interval=_float(
                "CHAT_REVOCATION_CHECK_INTERVAL",
                get("CHAT_REVOCATION_CHECK_INTERVAL") or str(d.revocation_check_interval),
                1,
                86400,
            ),
            extra={k: v for k, v in env.items() if k.startswith("FIREBASE_") and k.endswith("_EMULATOR_HOST")},
        )

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)  # type: ignore[arg-type]


# The documented table (README) is generated from this list; keep it in order.
DOCUMENTED: tuple[tuple[str, str, str], ...] = (
    ("CHAT_DATA_DIR", "./data", "Folder for the SQLite files and the generated secret key."),
    ("CHAT_HOST", "127.0.0.1", "Address Hypercorn binds to (0.0.0.0 to reach it from other devices)."),
    ("CHAT_PORT / PORT", "8000", "Port to serve on; Beanstalk's PORT is honoured when CHAT_PORT is unset."),
    ("CHAT_SECRET_KEY", "generated", "Signs session cookies; unset: generated once into DATA_DIR/secret_key (0600)."),
    ("CHAT_AUTH", "local", "Identity provider: local (argon2id in SQLite) or firebase."),
    ("CHAT_STORE", "sqlite", "Message store: sqlite or firestore."),
    ("CHAT_HUB", "memory", "Fan-out: memory (one process) or redis (many processes/instances)."),
    ("CHAT_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for CHAT_HUB=redis."),
    ("CHAT_ALLOWED_ORIGINS", "(none)", "Extra origins allowed to open the WebSocket, comma-separated."),
    ("CHAT_SECURE_COOKIES", "false", "Mark cookies Secure (turn on behind HTTPS)."),
    ("CHAT_MAX_MESSAGE_CHARS", "2000", "Longest message accepted, in characters."),
    ("CHAT_HISTORY_PAGE_SIZE", "50", "Messages shown on open and per 'older' page."),
    ("CHAT_CATCHUP_LIMIT", "500", "Most rows resent on reconnect before the view is reset to the latest page."),
    ("CHAT_RATE_LIMIT_PER_MINUTE", "60", "Messages per minute per connection (sustained)."),
    ("CHAT_RATE_LIMIT_BURST", "10", "Messages a connection may send at once before the rate applies."),
    ("CHAT_QUEUE_SIZE", "256", "Rows queued per connection before it is closed as a slow consumer (1013)."),
    ("CHAT_WS_PING_INTERVAL", "20", "Seconds between WebSocket pings (keep under the proxy idle timeout)."),
    ("CHAT_HEARTBEAT_INTERVAL", "5", "Seconds between live-status refreshes (at most 10; see chat.css)."),
    ("CHAT_MAX_FRAME_BYTES", "65536", "Largest WebSocket frame accepted from a browser."),
    ("CHAT_WORKERS", "1", "Hypercorn worker processes (more than 1 needs CHAT_HUB=redis)."),
    ("CHAT_GRACEFUL_TIMEOUT", "10", "Seconds to drain on shutdown before sockets are cut."),
    ("CHAT_TRUSTED_PROXIES", "0", "How many proxies' X-Forwarded-* headers to trust (1 behind Beanstalk's nginx)."),
    ("CHAT_LOG_JSON", "false", "Log one JSON object per line."),
    ("CHAT_SESSION_DAYS", "5", "How long a sign-in lasts."),
    (
        "CHAT_REVOCATION_CHECK_INTERVAL",
        "300",
        "Seconds between re-checks that an open socket's user is still signed in (1 or more).",
    ),
    ("FIREBASE_WEB_API_KEY", "(none)", "Web API key for pyrebase4 sign-in (CHAT_AUTH=firebase)."),
    ("FIREBASE_PROJECT_ID", "(none)", "Firebase/Google Cloud project id."),
    ("GOOGLE_APPLICATION_CREDENTIALS", "(none)", "Path to the service-account JSON for firebase-admin."),
    ("FIREBASE_SERVICE_ACCOUNT_JSON", "(none)", "The service-account JSON itself (a secret); wins over the path."),
)
