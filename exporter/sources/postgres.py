"""PostgreSQL: reachability, connection use, and audit_log events counted incrementally.

One persistent connection, opened with a connect timeout and a server-side
statement_timeout/lock_timeout, every round in a READ ONLY transaction (the role in
deploy/postgres-readonly-role.sql is the real boundary). The password comes from a file
or env var and is passed to libpq separately, never inside the DSN.

Audit events: on the first successful round the highest `key_column` value becomes the
high-water mark, so rows that were present before the exporter started are never counted.
Each later round counts only rows above the mark, grouped in SQL by allow-listed action
and environment (folded as every source folds it, see environments.py), and moves the
mark to the largest key it saw, in one statement (one snapshot). This assumes keys become visible in increasing order, which holds for
single-statement inserts into a serial/identity column; a transaction that commits a
smaller key after a larger one became visible is not counted. Rows inserted while the
database was unreachable *before the first successful round* are not counted either.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import psycopg
from psycopg import sql

from exporter import families
from exporter.config import PostgresAudit, PostgresSourceConfig
from exporter.labelvalues import OTHER, UNKNOWN
from exporter.logs import redact, register_secret
from exporter.sources.base import Snapshot, SourceError
from exporter.sources.environments import SQL_FOLD, sql_params

log = logging.getLogger(__name__)

MAX_CONNECTIONS = "SELECT current_setting('max_connections')::int"
CONNECTIONS = (
    "SELECT datname, numbackends FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY datname"
)


class PostgresSource:
    """A Poller for one PostgreSQL server."""

    def __init__(self, cfg: PostgresSourceConfig) -> None:
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self._cfg = cfg
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._audit = _AuditCounter(cfg.name, cfg.audit) if cfg.audit else None

    def refresh(self) -> Snapshot:
        try:
            conn = self._connection()
            with conn.transaction():
                max_conn = _one(conn.execute(MAX_CONNECTIONS).fetchone())
                per_db = conn.execute(CONNECTIONS).fetchall()
                audit = self._audit.poll(conn) if self._audit else []
        except psycopg.Error as exc:
            self._drop_connection()
            raise SourceError(_reason(exc), redact(f"{self.name}: {exc}")) from None
        snapshot = [
            families.samples("idp_postgres_up", {(self.name,): 1.0}),
            families.samples("idp_postgres_max_connections", {(self.name,): float(max_conn)}),
            families.samples(
                "idp_postgres_connections", {(self.name, db): float(n) for db, n in per_db}
            ),
            *audit,
        ]
        return snapshot

    def down_snapshot(self) -> Snapshot:
        return [families.samples("idp_postgres_up", {(self.name,): 0.0})]

    def close(self) -> None:
        self._drop_connection()

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            password = self._cfg.password()  # read again for every connection: rotation
        except OSError as exc:  # e.g. the file is briefly missing mid-rotation
            message = f"{self.name}: cannot read the password: {exc.strerror}"
            raise SourceError("auth", message) from None
        register_secret(password)
        ms = max(1, int(self.timeout * 1000))
        self._conn = psycopg.connect(
            self._cfg.dsn,
            password=password,
            # libpq's connect_timeout is whole seconds (and at least 2).
            connect_timeout=max(2, math.ceil(self.timeout)),
            application_name="idp-exporter",
            options=f"-c statement_timeout={ms} -c lock_timeout={ms} "
            "-c idle_in_transaction_session_timeout=60000",
            autocommit=True,
        )
        self._conn.read_only = True
        return self._conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


class _AuditCounter:
    """Counts new audit rows by (action, environment) above a high-water mark."""

    def __init__(self, target: str, cfg: PostgresAudit) -> None:
        self._target = target
        self._cfg = cfg
        self._mark: int | None = None
        self._counts: dict[tuple[str, str], int] = {
            (action, env): 0
            for action in cfg.actions
            for env in (*cfg.environments, OTHER, UNKNOWN)
        }
        table = sql.Identifier(*cfg.table.split("."))
        key = sql.Identifier(cfg.key_column)
        action = sql.Identifier(cfg.action_column)
        env = sql.SQL("{}->>'environment'").format(sql.Identifier(cfg.metadata_column))
        self._q_mark = sql.SQL("SELECT max({key}) FROM {table}").format(key=key, table=table)
        # Folding happens in SQL so the result has at most |actions| x |envs| rows
        # however many distinct values the table holds; the NULL-action row only
        # carries the max key of rows that are not counted.
        self._q_new = sql.SQL(
            "SELECT CASE WHEN {action} = ANY(%(actions)s) THEN {action} END, {env},"
            " count(*), max({key})"
            " FROM {table} WHERE {key} > %(mark)s GROUP BY 1, 2"
        ).format(action=action, env=sql.SQL(SQL_FOLD).format(env=env), key=key, table=table)
        self._q_oldest = sql.SQL(
            "SELECT extract(epoch FROM now() - min({time}))::float8 FROM {table}"
        ).format(time=sql.Identifier(cfg.time_column), table=table)

    def poll(self, conn: psycopg.Connection[tuple[Any, ...]]) -> list[Any]:
        if self._mark is None:
            self._mark = int(_one(conn.execute(self._q_mark).fetchone()) or 0)
        else:
            rows = conn.execute(
                self._q_new,
                {
                    "actions": list(self._cfg.actions),
                    "mark": self._mark,
                    **sql_params(self._cfg.environments),
                },
            ).fetchall()
            # Count only after the whole result arrived: a failed round changes nothing.
            new_mark = self._mark
            for action, env, count, max_key in rows:
                new_mark = max(new_mark, int(max_key))
                if action is not None:
                    self._counts[(action, env)] += int(count)
            self._mark = new_mark
        oldest = _one(conn.execute(self._q_oldest).fetchone())
        counts: dict[tuple[str, ...], float] = {
            (self._target, a, e): float(n) for (a, e), n in self._counts.items()
        }
        ages: dict[tuple[str, ...], float] = (
            {(self._target,): float(oldest)} if oldest is not None else {}
        )
        return [
            families.samples("idp_audit_events_total", counts),
            families.samples("idp_audit_oldest_event_age_seconds", ages),
        ]


def _one(row: tuple[Any, ...] | None) -> Any:
    return None if row is None else row[0]


def _reason(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.ConnectionTimeout):
        return "timeout"
    if isinstance(
        exc,
        psycopg.errors.InvalidPassword
        | psycopg.errors.InvalidAuthorizationSpecification
        | psycopg.errors.InsufficientPrivilege,
    ):
        return "auth"
    text = str(exc).lower()
    if "authentication failed" in text or "pg_hba.conf" in text or "permission denied" in text:
        return "auth"
    if "timeout" in text or "timed out" in text:
        return "timeout"
    if isinstance(exc, psycopg.OperationalError):
        return "connection"
    return "other"
