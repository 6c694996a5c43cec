"""The idp-exporter config file: typed, strict, validated all at once.

`load(path)` returns a frozen `Config` or raises one `ConfigError` listing every problem
as `FILE:LINE:COL: path: message`. Nothing past this module sees a raw dict.

The YAML is loaded as safely as a spec: anchors, aliases, duplicate keys and non-string
keys are errors, a file larger than 1 MiB (a real config is a few KiB) or nested deeper
than 16 levels (the deepest key of a valid config is at level 5) is refused before it
can cost memory or time.

Every source type is one line of `SOURCE_TYPES`: its config class (the `type:` it
answers to comes from there) and the class that runs it. The config union, the type
list in error messages and `exporter.sources.build` all read that table.

Secrets never live in the file: a source names a `*_file` (read with its trailing
newline stripped) or an environment variable. Validation checks that they are readable
but never puts their value (or a DSN/URL password) into an error message.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from common import durations, yamlsafe
from common.issues import Issue, LocatedError, pydantic_message, validation_issues
from exporter import labelselector

MAX_BYTES = 1 << 20
MAX_DEPTH = 16

# --- small value types -------------------------------------------------------------


def parse_duration(value: object) -> float:
    """A Prometheus duration string (`15s`, `1m30s`, `250ms`) in seconds; must be > 0."""
    if not isinstance(value, str):
        raise ValueError("must be a duration string such as 15s or 1m")
    return durations.parse_ms(value) / 1000


Duration = Annotated[float, BeforeValidator(parse_duration)]

# A source name becomes the `source`/`target` label value: keep it short and plain.
SourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
# An SQL identifier, optionally schema-qualified; interpolated into queries, so strict.
SqlIdent = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
]
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _check_readable_file(path: str | None) -> str | None:
    if path is None:
        return None
    if path == "":
        raise ValueError("must not be empty")
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"file {path} does not exist or is not a regular file")
    if not os.access(p, os.R_OK):
        raise ValueError(f"file {path} is not readable")
    return path


def _check_env_set(name: str | None) -> str | None:
    if name is not None and name not in os.environ:
        # Not echoed: a password pasted here instead of a variable's name would leak.
        raise ValueError("names an environment variable that is not set")
    return name


def _check_secret_file(path: str | None) -> str | None:
    """`_check_readable_file` for a password file, whose path is never echoed: a
    password pasted here instead of a path would land in the error (and the logs)."""
    try:
        return _check_readable_file(path)
    except ValueError:
        raise ValueError("is not a readable regular file (the value is not repeated)") from None


def read_secret(file: str | None, env: str | None) -> str | None:
    """The secret from `file` (trailing newline stripped) or the env var `env`, or None."""
    if file:
        return Path(file).read_text().rstrip("\r\n")
    if env:
        return os.environ[env].rstrip("\r\n")
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- web ---------------------------------------------------------------------------


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def parse_listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9877`, `:9877` meaning all interfaces) into (host, port).

    HOST is an IPv4 address, an IPv6 address in brackets, or a DNS name; anything else
    is refused here, so that it is bad input (exit 2), not a failure to listen."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port_text) or int(port_text) > 65535:
        raise ValueError(f"invalid listen address {value!r}; want HOST:PORT")
    problem = _host_problem(host)
    if problem:
        raise ValueError(f"invalid listen address {value!r}: {problem}")
    return host.removeprefix("[").removesuffix("]") or "0.0.0.0", int(port_text)


def _host_problem(host: str) -> str | None:
    if host.startswith("[") or host.endswith("]"):
        inner = host.removeprefix("[").removesuffix("]")
        if not (host.startswith("[") and host.endswith("]")) or not _is_ip(inner, 6):
            return f"{host} is not an IPv6 address in brackets, e.g. [::1]"
        return None
    if ":" in host:
        return "an IPv6 address must be in brackets, e.g. [::1]:9877"
    if re.fullmatch(r"[0-9.]+", host):
        return None if _is_ip(host, 4) else f"{host} is not an IPv4 address"
    if host and not _HOSTNAME.match(host):
        return f"{host!r} is not a host name"
    return None


def _is_ip(text: str, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


class TLSConfig(_Strict):
    cert_file: str
    key_file: str
    client_ca_file: str | None = None  # set: clients must present a cert signed by it

    _files = field_validator("cert_file", "key_file", "client_ca_file")(_check_readable_file)


_BCRYPT_RE = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")


class WebConfig(_Strict):
    listen_address: str = "0.0.0.0:9877"
    tls: TLSConfig | None = None
    basic_auth_users: dict[str, str] = Field(default_factory=dict)
    # Scrapes served at once; more get 503 (node_exporter's --web.max-requests).
    max_requests: int = Field(default=40, ge=1, le=1000)

    @field_validator("listen_address")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen_address(value)
        return value

    @field_validator("basic_auth_users")
    @classmethod
    def _hashes(cls, users: dict[str, str]) -> dict[str, str]:
        for user, hashed in users.items():
            if not user or ":" in user:
                raise ValueError(f"invalid user name {user!r}")
            if not _BCRYPT_RE.match(hashed):
                # Never echo the value: a mistyped plain password would land in the logs.
                raise ValueError(f"the hash of user {user!r} is not a bcrypt hash ($2b$...)")
        return users


# --- sources -----------------------------------------------------------------------


class SourceConfig(_Strict):
    """What every source's config has; each type's config class adds `type` and the rest."""

    name: SourceName

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> SourceConfig:
        interval = getattr(self, "interval", None)
        timeout = getattr(self, "timeout", None)
        if interval is not None and timeout is not None and timeout > interval:
            raise ValueError(f"timeout ({timeout:g}s) must not exceed interval ({interval:g}s)")
        return self


# The operations guide's environments: the one default allow-list of every source that
# labels by environment (other values fold to "other", a missing one to "unknown").
DEFAULT_ENVIRONMENTS = ("dev", "staging", "production")


def _default_environments() -> list[str]:
    return list(DEFAULT_ENVIRONMENTS)


class ArgoDeployments(_Strict):
    templates: list[str] = Field(min_length=1)
    label_selector: str | None = None
    environment_parameter: str = "environment"
    # Allow-list for deployments, rollbacks and ArgoCD applications of this cluster.
    environments: list[str] = Field(default_factory=_default_environments, min_length=1)

    @field_validator("label_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            labelselector.parse(value)  # raises ValueError naming the bad clause
        return value


class ArgoRollbacks(_Strict):
    templates: list[str] = Field(min_length=1)
    environment_parameter: str = "environment"


class ArgoCDConfig(_Strict):
    namespace: str
    environment_label: str = "environment"


class BackupsConfig(_Strict):
    namespace: str
    cronjobs: list[str] = Field(min_length=1)


class ArgoSourceConfig(SourceConfig):
    type: Literal["argo"]
    cluster: str
    kubeconfig: str | None = None  # empty or None: in-cluster service account
    context: str | None = None
    namespaces: list[str] = Field(min_length=1)
    deployments: ArgoDeployments
    rollbacks: ArgoRollbacks | None = None
    argocd: ArgoCDConfig | None = None
    backups: BackupsConfig | None = None
    interval: Duration = 300.0  # full resync period
    timeout: Duration = 10.0  # per API request

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig(cls, value: str | None) -> str | None:
        return _check_readable_file(value) if value else None


def _check_url(value: str, schemes: Sequence[str], *, secret_params: Sequence[str] = ()) -> str:
    """A URL with one of `schemes`, a host, and no password: not in the userinfo, and not
    as any of `secret_params` in the query string (libpq and redis-py read both)."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in schemes:
        raise ValueError(f"scheme must be one of {', '.join(schemes)}")
    if not parts.hostname:
        raise ValueError("URL has no host")
    # The value is never echoed: it contains the secret.
    if parts.password is not None:
        raise ValueError("must not contain a password; use password_file or password_env")
    for key, _ in parse_qsl(parts.query, keep_blank_values=True):
        if key.strip().lower() in secret_params:
            raise ValueError(
                f"must not carry {key.strip().lower()}= in its query string;"
                " use password_file or password_env"
            )
    del port
    return value


def _one_password(cfg: Any) -> Any:
    if cfg.password_file and cfg.password_env:
        raise ValueError("set password_file or password_env, not both")
    return cfg


class PostgresAudit(_Strict):
    table: SqlIdent = "audit_log"
    # Monotonic column: only rows with a larger key than at start are counted.
    key_column: SqlIdent = "id"
    action_column: SqlIdent = "action"
    time_column: SqlIdent = "timestamp"  # the guide's audit_log schema
    metadata_column: SqlIdent = "metadata"  # jsonb; the environment is metadata->>'environment'
    actions: list[str] = Field(min_length=1)  # allow-list; other actions are not counted
    environments: list[str] = Field(default_factory=_default_environments, min_length=1)


class PostgresSourceConfig(SourceConfig):
    type: Literal["postgres"]
    dsn: str
    password_file: str | None = None
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    audit: PostgresAudit | None = None
    interval: Duration = 15.0
    timeout: Duration = 5.0

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str) -> str:
        return _check_url(
            value, ("postgresql", "postgres"), secret_params=("password", "sslpassword")
        )

    _file = field_validator("password_file")(_check_secret_file)
    _env = field_validator("password_env")(_check_env_set)
    _one_secret = model_validator(mode="after")(lambda self: _one_password(self))

    def password(self) -> str | None:
        return read_secret(self.password_file, self.password_env)


class RedisSourceConfig(SourceConfig):
    type: Literal["redis"]
    url: str
    username: str | None = None  # Redis 6 ACL user
    password_file: str | None = None
    password_env: Annotated[str, Field(pattern=_ENV_NAME)] | None = None
    ca_file: str | None = None  # for rediss://
    interval: Duration = 15.0
    timeout: Duration = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        _check_url(value, ("redis", "rediss"), secret_params=("password",))
        path = urlsplit(value).path.strip("/")
        if path and not path.isdigit():
            raise ValueError("the URL path must be a database number (redis://host:6379/0)")
        return value

    _secret_file = field_validator("password_file")(_check_secret_file)
    _files = field_validator("ca_file")(_check_readable_file)
    _env = field_validator("password_env")(_check_env_set)
    _one_secret = model_validator(mode="after")(lambda self: _one_password(self))

    def password(self) -> str | None:
        return read_secret(self.password_file, self.password_env)


class HttpSourceConfig(SourceConfig):
    type: Literal["http"]
    url: str
    method: Literal["GET", "HEAD"] = "GET"
    expected_status: list[Annotated[int, Field(ge=100, le=599)]] | None = None  # None: any 2xx
    body_regex: str | None = None  # the body must match (re.search)
    follow_redirects: bool = True
    insecure_skip_verify: bool = False  # TLS verification is on unless explicitly off
    ca_file: str | None = None
    interval: Duration = 15.0
    timeout: Duration = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials")
        return _check_url(value, ("http", "https"))

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    _file = field_validator("ca_file")(_check_readable_file)


# --- the registry of source types -------------------------------------------------


@dataclass(frozen=True)
class SourceType:
    """One kind of source: the config class that validates it and the class that runs it.

    The implementation is named ("module:Class"), not imported, so that a deployment that
    only probes HTTP never loads the Kubernetes client.
    """

    config: type[SourceConfig]
    implementation: str
    # The implementation counts events since the process started and takes that epoch.
    takes_process_start: bool = False

    @property
    def name(self) -> str:
        """The `type:` value, from the config class's `type: Literal[...]` field."""
        name: str = get_args(self.config.model_fields["type"].annotation)[0]
        return name


SOURCE_TYPES: dict[str, SourceType] = {
    t.name: t
    for t in (
        SourceType(ArgoSourceConfig, "exporter.sources.argo:ArgoSource", takes_process_start=True),
        SourceType(PostgresSourceConfig, "exporter.sources.postgres:PostgresSource"),
        SourceType(RedisSourceConfig, "exporter.sources.redis:RedisSource"),
        SourceType(HttpSourceConfig, "exporter.sources.http_probe:HttpProbe"),
    )
}

if TYPE_CHECKING:
    AnySourceConfig = SourceConfig
else:
    AnySourceConfig = Annotated[
        Union[tuple(t.config for t in SOURCE_TYPES.values())],  # noqa: UP007
        Field(discriminator="type"),
    ]


class Config(_Strict):
    web: WebConfig = Field(default_factory=WebConfig)
    sources: list[AnySourceConfig] = Field(min_length=1)


# --- loading and error reporting ---------------------------------------------------


class ConfigError(LocatedError):
    """Every problem found in a config file, reported together (exit 2)."""


def load(path: str | os.PathLike[str]) -> Config:
    """Read and validate the config file at `path`; raise ConfigError on any problem."""
    file = os.fspath(path)
    try:
        doc = yamlsafe.load(Path(file), noun="config", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)
    except LocatedError as exc:
        raise ConfigError(exc.file, exc.issues) from None
    return _validate(doc, file)


def parse(text: str, file: str = "<config>") -> Config:
    """Validate config `text` as if read from `file` (named in the errors)."""
    try:
        doc = yamlsafe.loads(text, file, noun="config", max_depth=MAX_DEPTH)
    except LocatedError as exc:
        raise ConfigError(exc.file, exc.issues) from None
    return _validate(doc, file)


def _validate(doc: yamlsafe.Document, file: str) -> Config:
    if not isinstance(doc.data, dict):
        raise ConfigError(file, [Issue(1, 1, "", "the config must be a YAML mapping")])
    issues = _duplicate_names(doc)
    try:
        config = Config.model_validate(doc.data)
    except ValidationError as exc:
        # A config points at the offending value, also for an unknown key.
        issues.extend(validation_issues(exc, doc, _message, unknown_key_at="value"))
        config = None
    if issues or config is None:
        raise ConfigError(file, issues)
    return config


def _duplicate_names(doc: yamlsafe.Document) -> list[Issue]:
    sources = doc.data.get("sources")
    if not isinstance(sources, list):
        return []
    seen: dict[str, int] = {}
    issues = []
    for i, source in enumerate(sources):
        name = source.get("name") if isinstance(source, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            line, col = doc.position(("sources", i, "name"))
            message = f"duplicate source name {name!r} (also sources[{seen[name]}])"
            issues.append(Issue(line, col, f"sources[{i}].name", message))
        else:
            seen[name] = i
    return issues


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    types = list(SOURCE_TYPES)
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"type must be one of {', '.join(types)}"
    if kind == "union_tag_not_found":
        return f"required key `type` is missing ({', '.join(types[:-1])} or {types[-1]})"
    return pydantic_message(err)
