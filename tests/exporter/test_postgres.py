"""The PostgreSQL source against real PostgreSQL servers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.servers import PostgresServer, wait_until
from exporter import logs
from exporter.config import DEFAULT_ENVIRONMENTS
from exporter.sources.environments import fold_environment
from tests.exporter.helpers import Exporter, start_exporter

ROLE_SQL = Path(__file__).parents[2] / "deploy" / "postgres-readonly-role.sql"
PASSWORD = "pg-Secret-4f9a"
AUDIT = """
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    actor text,
    action text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    timestamp timestamptz NOT NULL DEFAULT now()
)
"""


def _sql(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def _insert(dsn: str, rows: list[tuple[str, str | None]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for action, env in rows:
            meta = "{}" if env is None else f'{{"environment": "{env}"}}'
            conn.execute(
                "INSERT INTO audit_log (actor, action, metadata) VALUES ('alice', %s, %s)",
                (action, meta),
            )


def _config(dsn: str, extra: str = "") -> str:
    return f"""
sources:
  - name: db
    type: postgres
    dsn: "{dsn}"
    interval: 500ms
    timeout: 500ms
    audit: {{actions: [deployment.trigger, auth.failed], environments: [production, staging]}}
{extra}"""


@pytest.fixture
def pg(pg_server: PostgresServer) -> PostgresServer:
    _sql(pg_server.dsn, AUDIT, "CREATE DATABASE app")
    return pg_server


@pytest.fixture
def exporter(pg: PostgresServer) -> Iterator[Exporter]:
    exp = start_exporter(_config(pg.dsn))
    wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "postgres up")
    yield exp
    exp.stop()


def test_values_equal_what_postgres_reports(pg: PostgresServer, exporter: Exporter) -> None:
    app_dsn = pg.dsn.rsplit("/", 1)[0] + "/app"
    held = [psycopg.connect(app_dsn) for _ in range(3)]
    try:
        with psycopg.connect(pg.dsn) as conn:
            max_conn = conn.execute("SHOW max_connections").fetchone()
            assert max_conn is not None
            wait_until(
                lambda: (
                    exporter.value("idp_postgres_connections", target="db", database="app") == 3
                ),
                5,
                "3 connections to app",
            )
            rows = conn.execute(
                "SELECT datname, numbackends FROM pg_stat_database WHERE datname IN ('app', 'template1')"
            ).fetchall()
        series = exporter.scrape()
        assert series[("idp_postgres_max_connections", frozenset({("target", "db")}))] == float(
            max_conn[0]
        )
        for datname, backends in rows:
            key = ("idp_postgres_connections", frozenset({("target", "db"), ("database", datname)}))
            assert series[key] == backends
    finally:
        for conn in held:
            conn.close()


def _audit(exp: Exporter) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["action"], dict(labels)["environment"]): v
        for (name, labels), v in exp.scrape().items()
        if name == "idp_audit_events_total"
    }


def test_audit_counts_exactly_the_rows_inserted_after_start(pg: PostgresServer) -> None:
    # Rows present before the exporter starts are never counted.
    _insert(pg.dsn, [("deployment.trigger", "production")] * 5)
    _sql(pg.dsn, "UPDATE audit_log SET timestamp = now() - interval '1 day' WHERE id = 1")
    exp = start_exporter(_config(pg.dsn))
    try:
        wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "up")
        assert set(_audit(exp).values()) == {0.0}
        # every allow-listed action x (allowed environments, other, unknown) starts at 0
        assert len(_audit(exp)) == 2 * 4
        age = exp.value("idp_audit_oldest_event_age_seconds", target="db")
        assert age is not None and 86400 - 60 < age < 86400 + 60

        _insert(
            pg.dsn,
            [("deployment.trigger", "production")] * 3
            + [("auth.failed", None)] * 2
            + [("deployment.trigger", "qa-42")]  # not allow-listed: folds to other
            + [("user.login", "production")] * 4,  # action not allow-listed: not counted
        )
        expected = {
            ("deployment.trigger", "production"): 3.0,
            ("auth.failed", "unknown"): 2.0,
            ("deployment.trigger", "other"): 1.0,
        }
        wait_until(
            lambda: {k: v for k, v in _audit(exp).items() if v} == expected, 5, "counted rows"
        )
        _insert(pg.dsn, [("auth.failed", "staging")])
        expected[("auth.failed", "staging")] = 1.0
        wait_until(lambda: {k: v for k, v in _audit(exp).items() if v} == expected, 5, "one more")
        # nothing is counted twice on later rounds
        gen = exp.runtime.exposition().generation
        wait_until(lambda: exp.runtime.exposition().generation > gen + 2, 5, "more rounds")
        assert {k: v for k, v in _audit(exp).items() if v} == expected
    finally:
        exp.stop()


# The same values the Argo and ArgoCD sources are tested with (tests/exporter/argo/
# test_counting.py), plus what only JSON can say: null and a number.
ENVIRONMENT_METADATA = [
    *(
        ("{}" if env is None else json.dumps({"environment": env}), env)
        for env in ["dev", "staging", "production", "Production", "qa-42", "", None]
    ),
    ('{"environment": null}', None),
    ('{"environment": 5}', "5"),
]


def test_audit_environments_fold_by_the_default_allow_list(pg: PostgresServer) -> None:
    cfg = _config(pg.dsn).replace(", environments: [production, staging]", "")
    exp = start_exporter(cfg)
    try:
        wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "up")
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            for meta, _ in ENVIRONMENT_METADATA:
                conn.execute(
                    "INSERT INTO audit_log (actor, action, metadata) VALUES ('a', %s, %s)",
                    ("deployment.trigger", meta),
                )
        expected: dict[tuple[str, str], float] = {}
        for _, env in ENVIRONMENT_METADATA:
            key = ("deployment.trigger", fold_environment(env, DEFAULT_ENVIRONMENTS))
            expected[key] = expected.get(key, 0.0) + 1
        assert {env for _, env in expected} == {"dev", "staging", "production", "other", "unknown"}
        wait_until(
            lambda: {k: v for k, v in _audit(exp).items() if v} == expected, 5, "folded rows"
        )
    finally:
        exp.stop()


def test_least_privilege_role_with_password_file(pg: PostgresServer, tmp_path: Path) -> None:
    _sql(pg.dsn, ROLE_SQL.read_text(), f"ALTER ROLE idp_exporter PASSWORD '{PASSWORD}'")
    hba = pg.data / "pg_hba.conf"
    hba.write_text(f"host all idp_exporter 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    _sql(pg.dsn, "SELECT pg_reload_conf()")
    role_dsn = f"postgresql://idp_exporter@127.0.0.1:{pg.port}/postgres"
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "wrong").write_text("not-the-password\n")

    # The role can read what the exporter needs and cannot write.
    with psycopg.connect(role_dsn, password=PASSWORD) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT actor FROM audit_log")
        conn.rollback()
        with pytest.raises(psycopg.Error):
            conn.execute("INSERT INTO audit_log (action) VALUES ('x')")

    stream = io.StringIO()
    logs.setup("debug", "logfmt", stream)
    try:
        extra = f"""  - name: db-wrong
    type: postgres
    dsn: "{role_dsn}"
    password_file: {tmp_path}/wrong
    interval: 500ms
    timeout: 500ms
"""
        cfg = _config(role_dsn, extra).replace(
            "timeout: 500ms\n    audit",
            f"timeout: 500ms\n    password_file: {tmp_path}/pw\n    audit",
        )
        exp = start_exporter(cfg)
        try:
            wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "up as role")
            wait_until(
                lambda: (
                    (
                        exp.value(
                            "idp_exporter_source_errors_total", source="db-wrong", reason="auth"
                        )
                        or 0
                    )
                    >= 1
                ),
                10,
                "auth failure counted",
            )
            _insert(pg.dsn, [("auth.failed", "production")])
            wait_until(
                lambda: _audit(exp).get(("auth.failed", "production")) == 1, 5, "audit as role"
            )
            logging.getLogger("test").error(
                "connecting to %s failed", role_dsn.replace("@", f":{PASSWORD}@")
            )
            text = httpx_text(exp)
        finally:
            exp.stop()
    finally:
        logging.getLogger().handlers.clear()
    assert PASSWORD not in text
    assert PASSWORD not in stream.getvalue()
    assert "password authentication failed" in stream.getvalue()  # the failure was logged


def httpx_text(exp: Exporter) -> str:
    import httpx

    return httpx.get(f"{exp.url}/metrics").text


def test_unreadable_password_file_is_a_counted_auth_error_until_it_returns(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    cfg = f"""
sources:
  - {{name: db, type: postgres, dsn: "{pg_server.dsn}", password_file: {secret},
      interval: 300ms, timeout: 300ms}}
"""
    exp = start_exporter(cfg)
    try:
        wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "up")
        secret.unlink()  # mid-rotation: the old file gone, the new one not there yet
        # Terminating the backend makes the source reconnect, and read the file again
        # (a private server: the shared one serves other tests' exporters).
        _sql(
            pg_server.dsn,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'idp-exporter'",
        )

        def auth_errors() -> float:
            return exp.value("idp_exporter_source_errors_total", source="db", reason="auth") or 0

        wait_until(lambda: auth_errors() >= 1, 10, "the missing file counted as auth")
        assert exp.value("idp_postgres_up", target="db") == 0
        secret.write_text(PASSWORD + "\n")
        wait_until(lambda: exp.value("idp_postgres_up", target="db") == 1, 10, "up again")
    finally:
        exp.stop()
