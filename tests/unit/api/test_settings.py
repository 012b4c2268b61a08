"""Server settings: defaults < TOML < OMNIVEC_* < flags, clear errors, and docs that list every option."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from omnivec.api.settings import (
    DEFAULT_ALIASES,
    OPTIONS,
    ConfigError,
    ServerSettings,
    check_exposure,
    is_loopback,
    load_settings,
)

DOCS = Path(__file__).parents[3] / "docs" / "server.md"


def test_defaults_are_safe() -> None:
    settings = load_settings(env={})
    assert settings.host == "127.0.0.1" and settings.api_keys == () and settings.allowed_roots == ()
    assert settings.alias_table == dict.fromkeys(DEFAULT_ALIASES, "lite")
    assert settings.library.limits.max_request_bytes == settings.max_request_bytes
    assert settings.max_body_bytes > settings.max_request_bytes * 4 // 3


def test_precedence_toml_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "omnivec.toml"
    config.write_text(
        'host = "0.0.0.0"\nport = 9000\nqueue_size = 7\napi_keys = ["from-toml"]\n'
        'allowed_roots = ["/srv/media"]\n[aliases]\nmy-model = "lite"\n'
    )
    env = {"OMNIVEC_PORT": "9100", "OMNIVEC_QUEUE_SIZE": "8", "OMNIVEC_MAX_WAIT_MS": "2.5"}
    settings = load_settings(config, {"port": 9200, "host": None}, env=env)
    assert (settings.host, settings.port, settings.queue_size, settings.max_wait_ms) == (
        "0.0.0.0",
        9200,
        8,
        2.5,
    )
    assert settings.api_keys == ("from-toml",) and settings.allowed_roots == (Path("/srv/media"),)
    assert settings.alias_table == {"my-model": "lite"}


def test_environment_lists(tmp_path: Path) -> None:
    env = {
        "OMNIVEC_API_KEYS": "one, two",
        "OMNIVEC_ALLOWED_ROOTS": f"{tmp_path}:/data",
        "OMNIVEC_ALIASES": "a=lite,b=lite",
        "OMNIVEC_CONFIG": "",
    }
    settings = load_settings(env=env)
    assert settings.api_keys == ("one", "two") and settings.allowed_roots == (tmp_path, Path("/data"))
    assert settings.library.allowed_roots == (tmp_path, Path("/data"))
    assert settings.alias_table == {"a": "lite", "b": "lite"}


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("request_timeout = 3\n")
    assert load_settings(env={"OMNIVEC_CONFIG": str(config)}).request_timeout == 3.0


@pytest.mark.parametrize(
    ("toml", "env", "fragment"),
    [
        ("queue = 3\n", {}, "unknown keys queue"),
        ("port = [\n", {}, "is not valid TOML"),
        ("", {"OMNIVEC_PORT": "http"}, "OMNIVEC_PORT: invalid value 'http' for port"),
        ("", {"OMNIVEC_PORT": "70000"}, "must be 0 to 65535"),
        ("", {"OMNIVEC_QUEUE_SIZE": "0"}, "must be greater than 0"),
        ("", {"OMNIVEC_MAX_WAIT_MS": "-1"}, "must be 0 or more"),
        ("", {"OMNIVEC_ALIASES": "no-equals-sign"}, "name=model pairs"),
    ],
)
def test_bad_settings_name_the_problem(toml: str, env: dict[str, str], fragment: str, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_settings(config, env=env)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml", env={})


def test_public_host_needs_keys() -> None:
    check_exposure(ServerSettings(host="127.0.0.1"))
    check_exposure(ServerSettings(host="::1"))
    check_exposure(ServerSettings(host="0.0.0.0", api_keys=("k",)))
    with pytest.raises(ConfigError, match=re.escape("refusing to bind 0.0.0.0 without an API key")):
        check_exposure(ServerSettings(host="0.0.0.0"))
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and not is_loopback("example.com")


def test_docs_list_every_option() -> None:
    docs = DOCS.read_text()
    for option in OPTIONS:
        assert f"`{option.env}`" in docs, option.env
        assert f"`{option.name}`" in docs, option.name
