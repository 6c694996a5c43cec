"""Fixtures that start real servers (see devstack/servers.py) and the shared local ones."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import redis

from devstack.servers import PostgresServer, RedisServer, require_binary, started


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, in the root conftest, so that the option exists however pytest is invoked.
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (rulegen bundles, exporter expositions, docs/metrics.md)",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True under `pytest --update-golden`: golden tests rewrite instead of comparing."""
    return bool(request.config.getoption("--update-golden"))


# The PostgreSQL and Redis that this project's machines run (trust auth, db `test`);
# for tests that read and write but never break a server.
SHARED_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def pg_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL, started; tests may stop() and start() it."""
    server = started(PostgresServer())
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server, started; tests may stop() and start() it."""
    server = started(RedisServer())
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def shared_pg_dsn() -> str:
    with psycopg.connect(SHARED_PG_DSN, connect_timeout=5) as conn:
        conn.execute("SELECT 1")
    return SHARED_PG_DSN


@pytest.fixture
def shared_redis_url() -> str:
    redis.Redis.from_url(SHARED_REDIS_URL, socket_timeout=5).ping()
    return SHARED_REDIS_URL


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")
