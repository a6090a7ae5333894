from pathlib import Path

import pytest

from quart_chat.settings import Settings, SettingsError


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
