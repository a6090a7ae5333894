from pathlib import Path

import pytest

from quart_chat.settings import (
    FIELDS,
    FIREBASE_AUTH_EMULATOR_HOST,
    FIRESTORE_EMULATOR_HOST,
    SETTINGS,
    Bounded,
    OneOf,
    Setting,
    Settings,
    SettingsError,
    Token,
    flag,
    origins,
    path,
    text,
)


def test_defaults_need_nothing_configured() -> None:
    s = Settings.from_env({})
    assert (s.auth, s.store, s.hub) == ("local", "sqlite", "memory")
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path("data"))
    assert s.secret_key is None and s.max_message_chars == 2000


def test_environment_overrides() -> None:
    s = Settings.from_env(
        {
            "CHAT_DATA_DIR": "/srv/chat",
            "CHAT_PORT": "9000",
            "CHAT_ALLOWED_ORIGINS": "https://chat.example.com/, https://other.example.com",
            "CHAT_SECURE_COOKIES": "true",
            "CHAT_HUB": "REDIS",
        }
    )
    assert s.data_dir == Path("/srv/chat") and s.port == 9000 and s.secure_cookies
    assert s.allowed_origins == ("https://chat.example.com", "https://other.example.com")
    assert s.hub == "redis"


def test_beanstalk_port_is_honoured_unless_chat_port_is_set() -> None:
    assert Settings.from_env({"PORT": "5000"}).port == 5000
    assert Settings.from_env({"PORT": "5000", "CHAT_PORT": "8001"}).port == 8001


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CHAT_PORT": "eighty"}, "CHAT_PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"CHAT_AUTH": "ldap"}, "CHAT_AUTH"),
        ({"CHAT_STORE": "mongo"}, "CHAT_STORE"),
        ({"CHAT_SECURE_COOKIES": "maybe"}, "CHAT_SECURE_COOKIES"),
        ({"CHAT_MAX_MESSAGE_CHARS": "0"}, "CHAT_MAX_MESSAGE_CHARS"),
        ({"CHAT_HEARTBEAT_INTERVAL": "60"}, "CHAT_HEARTBEAT_INTERVAL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


# --- every declaration is read -------------------------------------------------------------

DECLARED = [(name, declaration, var) for name, declaration in FIELDS.items() for var in declaration.env]


def example(declaration: Setting) -> tuple[str, object]:
    """A valid value that is not the default: (raw, parsed)."""
    parse = declaration.parse
    if isinstance(parse, Bounded):
        return str(parse.high), parse.kind(parse.high)
    if isinstance(parse, OneOf):
        choice = next(c for c in parse.choices if c != declaration.default)
        return choice.upper(), choice
    if parse is flag:
        return "yes", True
    if parse is origins:
        return " https://a.example/ ,https://b.example", ("https://a.example", "https://b.example")
    if parse is path:
        return "/srv/somewhere", Path("/srv/somewhere")
    if isinstance(parse, Token):
        return " " + "t" * parse.min_chars + " ", "t" * parse.min_chars
    assert parse is text, f"no example for {declaration.label}"
    return "some-value", "some-value"


@pytest.mark.parametrize(("field", "declaration", "var"), DECLARED, ids=[f"{v}" for _, _, v in DECLARED])
def test_every_variable_reaches_its_field(field: str, declaration: Setting, var: str) -> None:
    raw, value = example(declaration)
    assert value != declaration.default
    assert getattr(Settings.from_env({var: raw}), field) == value
    assert getattr(Settings.from_env({var: ""}), field) == declaration.default  # empty is unset


def bad_values(declaration: Setting) -> list[str]:
    parse = declaration.parse
    if isinstance(parse, Bounded):
        return ["x", str(parse.high + 1), str(parse.low - 1)]
    if isinstance(parse, OneOf):
        return ["neither"]
    if parse is flag:
        return ["maybe"]
    if isinstance(parse, Token):
        return ["t" * (parse.min_chars - 1), "t" * parse.min_chars + " t", "t" * parse.min_chars + "é"]
    return []


CHECKED = [(d, var, bad) for d in FIELDS.values() for var in d.env for bad in bad_values(d)]


@pytest.mark.parametrize(("declaration", "var", "bad"), CHECKED, ids=[f"{v}={b}" for _, v, b in CHECKED])
def test_every_bad_value_names_its_variable(declaration: Setting, var: str, bad: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{var} must be "):
        Settings.from_env({var: bad})


def test_messages_keep_their_wording() -> None:
    cases = {
        "CHAT_WORKERS": ("99", "CHAT_WORKERS must be between 1 and 64, not 99."),
        "CHAT_PORT": ("eighty", "CHAT_PORT must be a whole number, not 'eighty'."),
        "CHAT_HEARTBEAT_INTERVAL": ("60", "CHAT_HEARTBEAT_INTERVAL must be between 0.1 and 10, not 60.0."),
        "CHAT_GRACEFUL_TIMEOUT": ("soon", "CHAT_GRACEFUL_TIMEOUT must be a number, not 'soon'."),
        "CHAT_HUB": ("kafka", "CHAT_HUB must be one of memory, redis, not 'kafka'."),
        "CHAT_LOG_JSON": ("maybe", "CHAT_LOG_JSON must be true or false, not 'maybe'."),
    }
    for var, (raw, message) in cases.items():
        with pytest.raises(SettingsError) as raised:
            Settings.from_env({var: raw})
        assert str(raised.value) == message


def test_firebase_project_falls_back_to_google_cloud_project() -> None:
    both = {"FIREBASE_PROJECT_ID": "chat-one", "GOOGLE_CLOUD_PROJECT": "chat-two"}
    assert Settings.from_env(both).firebase_project_id == "chat-one"
    assert Settings.from_env({"GOOGLE_CLOUD_PROJECT": "chat-two"}).firebase_project_id == "chat-two"


@pytest.mark.parametrize("declaration", [FIREBASE_AUTH_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST], ids=lambda d: d.label)
def test_emulator_hosts_are_read_from_the_environment_given(declaration: Setting) -> None:
    (var,) = declaration.env
    assert declaration.read({var: " 127.0.0.1:9099 "}) == "127.0.0.1:9099"
    assert declaration.read({var: " "}) is None
    assert declaration.read({}) is None
    assert declaration.development and declaration in SETTINGS


def test_every_variable_is_declared_once() -> None:
    names = [var for declaration in SETTINGS for var in declaration.env]
    assert len(names) == len(set(names))


def test_secrets_stay_out_of_the_settings_repr() -> None:
    env = {"CHAT_SECRET_KEY": "k" * 40, "FIREBASE_SERVICE_ACCOUNT_JSON": '{"private_key": "pk"}'}
    settings = Settings.from_env(env)
    assert settings.secret_key == "k" * 40
    assert "k" * 40 not in repr(settings) and "private_key" not in repr(settings)
    assert "data_dir=" in repr(settings)
