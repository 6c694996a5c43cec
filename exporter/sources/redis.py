"""Redis: one `INFO clients memory stats` round trip per refresh.

Redis's own counters (keyspace hits/misses) are mirrored as counters: Prometheus'
rate() handles their reset when Redis restarts. One pooled connection, socket timeouts
equal to the source timeout, and no client-side retries (the runtime's poll loop owns
retries and backoff, so a down Redis costs one timeout per attempt, not several).

The least-privileged ACL user it needs: `ACL SETUSER slo on >PASSWORD -@all +info +ping`
(no key patterns, so it can read no data).

The password is read from its file or variable for every new connection, not once: after
a rotation the next reconnect (every failed refresh drops the connection) uses the new
one, as the PostgreSQL source does, with no restart.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.credentials import CredentialProvider
from redis.retry import Retry

from exporter import families
from exporter.config import RedisSourceConfig
from exporter.logs import redact, register_secret
from exporter.sources.base import Snapshot, SourceError

# (catalog family, INFO field)
FIELDS = (
    ("idp_redis_keyspace_hits_total", "keyspace_hits"),
    ("idp_redis_keyspace_misses_total", "keyspace_misses"),
    ("idp_redis_connected_clients", "connected_clients"),
    ("idp_redis_memory_used_bytes", "used_memory"),
    ("idp_redis_memory_max_bytes", "maxmemory"),
)


class RedisSource:
    """A Poller for one Redis server."""

    def __init__(self, cfg: RedisSourceConfig) -> None:
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        url, username = _without_user(cfg.url, cfg.username)
        secret = cfg.password_file or cfg.password_env
        self._client = redis.Redis.from_url(
            url,
            **(
                {"credential_provider": _SecretCredentials(cfg, username)}
                if secret
                else {"username": username}
            ),
            socket_timeout=cfg.timeout,
            socket_connect_timeout=cfg.timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            max_connections=2,
            # No client_name: CLIENT SETNAME would need more than +info (see the docstring).
            **({"ssl_ca_certs": cfg.ca_file} if cfg.ca_file else {}),
        )

    def refresh(self) -> Snapshot:
        try:
            info = self._client.info("clients", "memory", "stats")
        except redis.RedisError as exc:
            self._client.connection_pool.disconnect()
            raise SourceError(_reason(exc), redact(f"{self.name}: {exc}")) from None
        snapshot = [families.samples("idp_redis_up", {(self.name,): 1.0})]
        for family, field in FIELDS:
            value = info.get(field)
            if not isinstance(value, int | float):
                raise SourceError("parse", f"{self.name}: INFO has no numeric {field}")
            snapshot.append(families.samples(family, {(self.name,): float(value)}))
        return snapshot

    def down_snapshot(self) -> Snapshot:
        return [families.samples("idp_redis_up", {(self.name,): 0.0})]

    def close(self) -> None:
        self._client.close()


class _SecretCredentials(CredentialProvider):
    """Username and the password as it is now; redis-py asks on every new connection."""

    def __init__(self, cfg: RedisSourceConfig, username: str | None) -> None:
        self._cfg = cfg
        self._username = username

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        try:
            password = self._cfg.password() or ""
        except OSError as exc:  # e.g. the file is briefly missing mid-rotation
            raise redis.AuthenticationError(f"cannot read the password: {exc.strerror}") from None
        register_secret(password)
        return (self._username, password) if self._username else (password,)


def _without_user(url: str, username: str | None) -> tuple[str, str | None]:
    """The URL without its user (redis-py refuses one beside a credential provider) and
    the user: `username` if set, else the URL's."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, username
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), username or unquote(parts.username)


def _reason(exc: redis.RedisError) -> str:
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.NoPermissionError):
        return "auth"
    if isinstance(exc, redis.TimeoutError):
        return "timeout"
    if isinstance(exc, redis.ConnectionError):
        return "connection"
    text = str(exc)
    if text.startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
        return "auth"
    return "other"
