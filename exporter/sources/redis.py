"""Redis: one `INFO clients memory stats` round trip per refresh.

Redis's own counters (keyspace hits/misses) are mirrored as counters: Prometheus'
rate() handles their reset when Redis restarts. One pooled connection, socket timeouts
equal to the source timeout, and no client-side retries (the runtime's poll loop owns
retries and backoff, so a down Redis costs one timeout per attempt, not several).

The least-privileged ACL user it needs: `ACL SETUSER slo on >PASSWORD -@all +info +ping`
(no key patterns, so it can read no data).
"""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
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
        password = cfg.password()
        register_secret(password)
        self._client = redis.Redis.from_url(
            cfg.url,
            username=cfg.username,
            password=password,
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
