"""Server settings: one frozen object built from defaults < TOML file < ``OMNIVEC_*`` < flags.

Every option is a row of :data:`OPTIONS` (name = TOML key, environment variable, meaning), and
``docs/server.md`` lists the same rows; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from omnivec.config import Settings, read_models_toml
from omnivec.engine.batcher import BatchPolicy
from omnivec.errors import InvalidInput
from omnivec.limits import DEFAULT_LIMITS

# Hosted model names that resolve to the served model, so code naming them runs unchanged.
DEFAULT_ALIASES: tuple[str, ...] = (
    "gemini-embedding-001",
    "gemini-embedding-2",
    "gemini-embedding-2-preview",
    "text-embedding-004",
    "text-embedding-3-small",
    "text-embedding-3-large",
)


class ConfigError(ValueError):
    """A setting is malformed or unsafe; the message names it and how to fix it."""


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "omnivec"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"  # interface to bind; non-loopback needs api_keys
    port: int = 8080
    api_keys: tuple[str, ...] = ()  # accepted keys; empty = no auth, loopback only
    allowed_roots: tuple[Path, ...] = ()  # folders fileData / file:// URIs may read
    model: str = "lite"  # the served model
    aliases: Mapping[str, str] | None = None  # name -> served model; None = DEFAULT_ALIASES
    max_batch_cost: float = 8192.0  # cost units (~text tokens) per model call, 256 to 65536
    max_wait_ms: float = 0.0  # wait for more requests before a batch runs when the model is idle, 0 to 50
    queue_size: int = 256  # requests waiting for the model before 429
    request_timeout: float = 120.0  # seconds per request (queue + model) before 504
    data_dir: Path = field(default_factory=_default_data_dir)  # uploaded files live here
    max_request_bytes: int = DEFAULT_LIMITS.max_request_bytes  # media bytes per request / upload
    max_segmented_seconds: float = 3600.0  # longest audio/video accepted with omnivecSegments
    index_dir: Path | None = None  # the search index served at /v1/search and /; None = no index
    base: Settings = field(default_factory=Settings)  # cache dir, device, threads (library)

    @property
    def alias_table(self) -> dict[str, str]:
        if self.aliases is None:
            return dict.fromkeys(DEFAULT_ALIASES, self.model)
        return dict(self.aliases)

    @property
    def library(self) -> Settings:
        """The library settings the served model runs with."""
        limits = replace(self.base.limits, max_request_bytes=self.max_request_bytes)
        return replace(self.base, allowed_roots=self.allowed_roots, model=self.model, limits=limits)

    @property
    def policy(self) -> BatchPolicy:
        return BatchPolicy(self.max_batch_cost, self.max_wait_ms, self.queue_size, self.request_timeout)

    @property
    def max_body_bytes(self) -> int:
        """HTTP body limit: the media limit in base64 (4/3) plus room for the JSON around it."""
        return self.max_request_bytes * 4 // 3 + 1024 * 1024


@dataclass(frozen=True, slots=True)
class Option:
    name: str  # ServerSettings field and TOML key
    env: str
    parse: Callable[[Any], Any]  # TOML value or environment string -> field value
    meaning: str


def _strs(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(x).strip() for x in items if str(x).strip())


def _paths(value: Any) -> tuple[Path, ...]:
    items = value.split(os.pathsep) if isinstance(value, str) else list(value)
    return tuple(Path(str(x)).expanduser() for x in items if str(x))


def _aliases(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("expected name=model pairs separated by commas")
        return {k.strip(): v.strip() for k, v in pairs}
    return {str(k): str(v) for k, v in dict(value).items()}


def _positive(kind: Callable[[Any], float]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        number = kind(value)
        if number <= 0:
            raise ValueError("must be greater than 0")
        return number

    return parse


def _non_negative(value: Any) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _port(value: Any) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError("must be 0 to 65535")
    return port


OPTIONS: tuple[Option, ...] = (
    Option("host", "OMNIVEC_HOST", str, "interface to bind; anything but loopback needs API keys"),
    Option("port", "OMNIVEC_PORT", _port, "TCP port"),
    Option("api_keys", "OMNIVEC_API_KEYS", _strs, "accepted API keys (comma-separated in the variable)"),
    Option("allowed_roots", "OMNIVEC_ALLOWED_ROOTS", _paths, "folders that fileData URIs may read"),
    Option("model", "OMNIVEC_MODEL", str, "the served model"),
    Option("aliases", "OMNIVEC_ALIASES", _aliases, "model names that resolve to the served model"),
    Option("max_batch_cost", "OMNIVEC_MAX_BATCH_COST", _positive(float), "cost units per model call"),
    Option("max_wait_ms", "OMNIVEC_MAX_WAIT_MS", _non_negative, "wait for company before a batch runs"),
    Option("queue_size", "OMNIVEC_QUEUE_SIZE", _positive(int), "requests waiting before 429"),
    Option("request_timeout", "OMNIVEC_REQUEST_TIMEOUT", _positive(float), "seconds per request before 504"),
    Option(
        "data_dir", "OMNIVEC_DATA_DIR", lambda v: Path(str(v)).expanduser(), "where uploaded files are kept"
    ),
    Option(
        "max_request_bytes", "OMNIVEC_MAX_REQUEST_BYTES", _positive(int), "media bytes per request or upload"
    ),
    Option(
        "max_segmented_seconds",
        "OMNIVEC_MAX_SEGMENTED_SECONDS",
        _positive(float),
        "longest audio/video accepted with omnivecSegments",
    ),
    Option(
        "index_dir",
        "OMNIVEC_INDEX",
        lambda v: Path(str(v)).expanduser(),
        "the index served at / and /v1/search",
    ),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def _parsed(option: Option, value: Any, source: str) -> Any:
    try:
        return option.parse(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: invalid value {value!r} for {option.name}: {exc}") from None


def read_toml(path: Path) -> dict[str, Any]:
    """Settings from a TOML file: top-level keys named as in :data:`OPTIONS`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - set(_BY_NAME) - {"models"})  # [models.*]: omnivec.config.read_models_toml
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown keys {', '.join(unknown)}; known: {', '.join(_BY_NAME)}"
        )
    return {name: _parsed(_BY_NAME[name], value, str(path)) for name, value in raw.items() if name != "models"}


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    return {o.name: _parsed(o, env[o.env], o.env) for o in OPTIONS if env.get(o.env)}


def load_settings(
    config: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Build settings: defaults, then the TOML file, then ``OMNIVEC_*`` variables, then ``overrides``.

    Args:
        config: a TOML file; ``OMNIVEC_CONFIG`` names one when this is None.
        overrides: values from command-line flags (None values are ignored).
        env: the environment (default ``os.environ``).

    Raises:
        ConfigError: a malformed value, an unknown TOML key, or an unreadable file.
    """
    environ = os.environ if env is None else env
    path = config or (Path(environ["OMNIVEC_CONFIG"]) if environ.get("OMNIVEC_CONFIG") else None)
    values: dict[str, Any] = read_toml(path) if path else {}
    values.update(from_env(environ))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _parsed(_BY_NAME[name], value, f"--{name.replace('_', '-')}")
    known = {f.name for f in fields(ServerSettings)}
    base = Settings.from_env(dict(environ))
    if path:  # models registered by path in the same file
        try:
            base = replace(base, models=read_models_toml(path))
        except InvalidInput as exc:
            raise ConfigError(exc.message) from None
    return ServerSettings(base=base, **{k: v for k, v in values.items() if k in known})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: ServerSettings) -> None:
    """Refuse to serve a non-loopback interface without API keys.

    Raises:
        ConfigError: ``host`` is reachable from other machines and no API key is configured.
    """
    if not settings.api_keys and not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to bind {settings.host} without an API key: anyone who can reach it could "
            "embed on your machine and read files under the allowed roots; pass --api-key KEY "
            "(or set OMNIVEC_API_KEYS), or bind 127.0.0.1"
        )
