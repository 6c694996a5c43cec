"""The harness starts, queries, stops and restarts every real server."""

from __future__ import annotations

import subprocess
import textwrap
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import psycopg
import pytest
import redis
from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

from devstack.servers import PostgresServer, PrometheusServer, RedisServer, free_port, wait_until


def test_private_postgres_answers_and_restarts(pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_server.dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
    pg_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_server.dsn, connect_timeout=2)
    pg_server.start()
    with psycopg.connect(pg_server.dsn, connect_timeout=5) as conn:
        assert conn.execute("SHOW max_connections").fetchone() is not None


def test_private_redis_answers_and_restarts(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    client.set("k", "v")
    assert client.get("k") == b"v"
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    redis_server.start()
    assert client.ping() is True
    assert client.get("k") is None  # nothing is kept on disk


def test_shared_servers_answer(shared_pg_dsn: str, shared_redis_url: str) -> None:
    with psycopg.connect(shared_pg_dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("test",)
    assert redis.Redis.from_url(shared_redis_url).ping() is True


RULES = textwrap.dedent("""\
    groups:
      - name: demo
        rules:
          - alert: JobFailuresHigh
            expr: sum by (namespace) (rate(demo_failures_total[5m])) > 0.1
            for: 2m
            labels: {severity: warning}
    """)


def _rules_test(expected_namespace: str) -> str:
    return textwrap.dedent(f"""\
        rule_files: [rules.yml]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: demo_failures_total{{namespace="ns1"}}
                values: 0+60x15
              - series: demo_failures_total{{namespace="ns2"}}
                values: 0x15
            alert_rule_test:
              - eval_time: 1m
                alertname: JobFailuresHigh
                exp_alerts: []
              - eval_time: 10m
                alertname: JobFailuresHigh
                exp_alerts:
                  - exp_labels: {{severity: warning, namespace: {expected_namespace}}}
        """)


def test_promtool_checks_and_tests_rules(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    check = subprocess.run(
        [promtool, "check", "rules", "rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "SUCCESS: 1 rules found" in check.stdout

    (tmp_path / "pass.test.yml").write_text(_rules_test("ns1"))
    passing = subprocess.run(
        [promtool, "test", "rules", "pass.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr

    (tmp_path / "fail.test.yml").write_text(_rules_test("ns2"))
    failing = subprocess.run(
        [promtool, "test", "rules", "fail.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failing.returncode == 1
    assert 'namespace="ns1"' in failing.stdout + failing.stderr


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_prometheus_scrapes_an_exporter_and_answers_queries() -> None:
    registry = CollectorRegistry()
    Counter("harness_demo_total", "A demo counter.", registry=registry).inc(7)
    port = free_port()
    httpd = make_server("127.0.0.1", port, make_wsgi_app(registry), handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    config = textwrap.dedent(f"""\
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        scrape_configs:
          - job_name: demo
            static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
        """)
    prom = PrometheusServer(config)
    try:
        prom.start()
        wait_until(lambda: bool(prom.query("harness_demo_total")), 20, "the first scrape")
        result = prom.query('harness_demo_total{job="demo"}')
        assert result[0]["value"][1] == "7"  # type: ignore[index]
        assert prom.query("up")[0]["value"][1] == "1"  # type: ignore[index]
    finally:
        prom.destroy()
        httpd.shutdown()
