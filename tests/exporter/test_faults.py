"""Killing and restarting PostgreSQL or Redis affects only that source, and it recovers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from common import catalog
from devstack.servers import PostgresServer, RedisServer, wait_until
from tests.exporter.helpers import Exporter, Series, parse, start_exporter, value

INTERVAL = 0.5


@pytest.fixture
def exporter(pg_server: PostgresServer, redis_server: RedisServer) -> Iterator[Exporter]:
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE audit_log (id bigserial PRIMARY KEY, action text, metadata jsonb,"
            " timestamp timestamptz DEFAULT now())"
        )
    exp = start_exporter(
        f"""
sources:
  - {{name: db, type: postgres, dsn: "{pg_server.dsn}", interval: 500ms, timeout: 500ms,
      audit: {{actions: [deployment.trigger]}}}}
  - {{name: cache, type: redis, url: "{redis_server.url}", interval: 500ms, timeout: 500ms}}
"""
    )
    wait_until(
        lambda: (
            exp.value("idp_postgres_up", target="db") == 1
            and exp.value("idp_redis_up", target="cache") == 1
        ),
        10,
        "both up",
    )
    yield exp
    exp.stop()


def _up(series: Series, source: str) -> float | None:
    return value(series, "idp_exporter_source_up", source=source)


def _others_keep_reporting(exp: Exporter, down: str, other: str, other_metric: str) -> None:
    """While `down` is down: it exposes only its zeros, `other` keeps refreshing."""
    wait_until(lambda: _up(exp.scrape(), down) == 0, 5, f"{down} down")
    first = exp.value("idp_exporter_source_last_success_timestamp_seconds", source=other)
    wait_until(
        lambda: (
            (exp.value("idp_exporter_source_last_success_timestamp_seconds", source=other) or 0)
            > (first or 0)
        ),
        5,
        f"{other} refreshed while {down} is down",
    )
    series = exp.scrape()
    assert _up(series, other) == 1
    assert value(series, other_metric, target=other) == 1
    assert value(series, "idp_probe_success", target=down) == 0
    assert value(series, "idp_probe_success", target=other) == 1
    leftovers = {name for name, labels in series if ("target", down) in labels}
    assert leftovers <= {"idp_probe_success", "idp_postgres_up", "idp_redis_up"}, leftovers
    assert (
        value(series, "idp_exporter_source_errors_total", source=down, reason="connection") or 0
    ) >= 1


def _back_within_three_intervals(exp: Exporter, source: str) -> None:
    started = time.monotonic()
    wait_until(lambda: _up(exp.scrape(), source) == 1, 10, f"{source} back")
    assert time.monotonic() - started < 3 * INTERVAL


def test_postgres_restart(exporter: Exporter, pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (action, metadata) VALUES ('deployment.trigger', '{}')")
    key = ("deployment.trigger", "unknown")
    wait_until(
        lambda: (
            exporter.value("idp_audit_events_total", target="db", action=key[0], environment=key[1])
            == 1
        ),
        5,
        "audit row counted",
    )
    pg_server.stop()
    _others_keep_reporting(exporter, "db", "cache", "idp_redis_up")
    assert exporter.value("idp_postgres_up", target="db") == 0
    pg_server.start()
    _back_within_three_intervals(exporter, "db")
    # the counter comes back with its value, not reset and not double counted
    assert (
        exporter.value("idp_audit_events_total", target="db", action=key[0], environment=key[1])
        == 1
    )


def test_redis_restart(exporter: Exporter, redis_server: RedisServer) -> None:
    redis_server.stop()
    _others_keep_reporting(exporter, "cache", "db", "idp_postgres_up")
    assert exporter.value("idp_redis_up", target="cache") == 0
    redis_server.start()
    _back_within_three_intervals(exporter, "cache")
    assert exporter.value("idp_redis_keyspace_hits_total", target="cache") is not None


def test_everything_emitted_is_in_the_catalog_and_promtool_clean(
    exporter: Exporter, promtool: str
) -> None:
    text = httpx.get(f"{exporter.url}/metrics").text
    series = parse(text)
    names = {name for name, _ in series}
    assert {"idp_postgres_up", "idp_redis_up", "idp_audit_events_total"} <= names
    allowed = catalog.series_names()
    for name, labels in series:
        family = catalog.family_of(name)
        assert name in allowed and family is not None, f"{name} is not in the catalog"
        assert {k for k, _ in labels} - {"le"} == set(family.labels), name
    proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    assert proc.returncode == 0 and proc.stdout == proc.stderr == b"", (proc.stdout, proc.stderr)
