"""The whole idp-slo loop on one machine: every component real except the Kubernetes API.

`Stack` starts, in order: a fake Kubernetes API serving Argo workflows, a private
PostgreSQL with the guide's audit_log table, a private Redis, a local HTTP server
standing in for Backstage's health check, idp-exporter (the installed CLI, as a
subprocess), and a real Prometheus scraping it every second with rule files rendered by
idp-rulegen. The e2e test and `make demo` both drive it. Every process it started is
stopped by `close()`, including after a failed start, and a component that cannot start
raises `StackError` naming it and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import yaml

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import workflow
from devstack.promconfig import prometheus_config
from devstack.servers import (
    PostgresServer,
    Process,
    PrometheusServer,
    RedisServer,
    ServerError,
    started,
)
from rulegen import model as rulegen_model
from rulegen import rules, topology

CLUSTER = "e2e"
SCRAPE_INTERVAL = "1s"

AUDIT_TABLE = """
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    timestamp timestamptz NOT NULL DEFAULT now(),
    user_entity_ref text NOT NULL,
    action text NOT NULL,
    resource_type text,
    resource_ref text,
    metadata jsonb NOT NULL DEFAULT '{}'
)
"""


def one_prometheus_rules(spec: Path) -> str:
    """The spec's rules as one Prometheus that sees every series loads them: a split spec
    rendered in single mode (the one-cluster stack has no global layer), groups following
    Prometheus's own interval."""
    m = rulegen_model.load(str(spec))
    single = dataclasses.replace(
        m, topology=topology.Topology(cluster_label=m.topology.cluster_label)
    )
    doc = {"groups": [g.as_dict() for g in rules.groups(single)]}
    return without_group_intervals(yaml.safe_dump(doc, sort_keys=False))


def without_group_intervals(rule_file: str) -> str:
    """A rule file whose groups all follow Prometheus's 1s evaluation interval: the slow
    groups of a 30d bundle run every 2m, too rarely for a test or a demo to watch."""
    doc = yaml.safe_load(rule_file)
    for group in doc["groups"]:
        group.pop("interval", None)
    return yaml.safe_dump(doc, sort_keys=False)


class StackError(RuntimeError):
    """A component of the stack could not start; the message names it and why."""


C = TypeVar("C")


def _quietly(stop: Callable[[C], None], component: C) -> None:
    """Stop `component`; a failure must not keep close() from stopping the others."""
    with contextlib.suppress(Exception):
        stop(component)


class Launcher:
    """Starts components one by one and stops those started, newest first, on close()."""

    def __init__(self) -> None:
        self._started = contextlib.ExitStack()

    def step(self, what: str, start: Callable[[], C], stop: Callable[[C], None]) -> C:
        """`start()`'s component, with `stop` queued for close(); StackError if it fails."""
        try:
            component = start()
        except (ServerError, OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            raise StackError(f"could not start {what}: {exc}") from exc
        self._started.callback(_quietly, stop, component)
        return component

    def callback(self, undo: Callable[[], object]) -> None:
        self._started.callback(undo)

    def close(self) -> None:
        """Stop everything that was started, newest first; never raises."""
        self._started.close()


def argo_source(cluster: str, kubeconfig: Path, **settings: Any) -> dict[str, Any]:
    """An argo source named after its cluster, counting deployment-standard workflows in
    namespace argo of the fake API; `settings` add to or override these."""
    return {
        "name": cluster,
        "type": "argo",
        "cluster": cluster,
        "kubeconfig": str(kubeconfig),
        "context": "fake",
        "namespaces": ["argo"],
        "deployments": {"templates": ["deployment-standard"]},
        "interval": "5m",
        "timeout": "5s",
        **settings,
    }


def complete_workflow(
    kube: FakeKubeAPI,
    name: str,
    phase: str,
    *,
    duration: float = 120.0,
    template: str = "deployment-standard",
    environment: str = "production",
) -> str:
    """A deployment (or rollback) workflow `name` that finishes now, after `duration` s."""
    now = time.time()
    kube.create(
        WORKFLOWS,
        workflow(
            name,
            phase=phase,
            template=template,
            environment=environment,
            started=now - duration,
            finished=now,
            steps=6,
        ),
    )
    return name


class HealthCheck:
    """Backstage's /healthcheck stand-in: answers `status` (200 until told otherwise)."""

    def __init__(self) -> None:
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"status":"ok"}' if owner.status == 200 else b'{"status":"error"}'
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthcheck"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Exporter(Process):
    """idp-exporter (the installed package's CLI) with the given sources, on a free port."""

    ready_timeout = 30.0  # the first PostgreSQL and Kubernetes rounds come before /readyz

    def __init__(self, sources: list[dict[str, Any]]) -> None:
        super().__init__("exporter")
        self.config = self.dir / "exporter.yaml"
        config = {"web": {"listen_address": f"127.0.0.1:{self.port}"}, "sources": sources}
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cli = [sys.executable, "-m", "exporter.cli", "--config", str(self.config)]
        return [*cli, "--log-level", "info"]

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


class Stack:
    """Start with `Stack.up(rule_files)`; always `close()` (or use it as a context)."""

    def __init__(self, rule_files: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="idp-e2e-"))
        self.rule_files = rule_files
        self.kube = FakeKubeAPI(bookmark_interval=1.0)
        self.health: HealthCheck | None = None
        self.pg: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.exporter: Exporter | None = None
        self.prometheus: PrometheusServer | None = None
        self._names = itertools.count()
        # What close() undoes, newest first; the temp dir goes last.
        self._launcher = Launcher()
        self._launcher.callback(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self._step = self._launcher.step

    # -- lifecycle --------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def up(cls, rule_files: dict[str, str]) -> Iterator[Stack]:
        stack = cls(rule_files)
        try:
            stack.start()
            yield stack
        finally:
            stack.close()

    def start(self) -> None:
        self._step("the fake Kubernetes API", self.kube.start, FakeKubeAPI.stop)
        self.health = self._step("the health-check server", HealthCheck, HealthCheck.close)
        self.pg = self._step("PostgreSQL", self._start_postgres, PostgresServer.destroy)
        self.redis = self._step("Redis", lambda: started(RedisServer()), RedisServer.destroy)
        self.exporter = self._step("idp-exporter", self._start_exporter, Exporter.destroy)
        self.prometheus = self._step("Prometheus", self._start_prometheus, PrometheusServer.destroy)

    def close(self) -> None:
        """Stop everything that was started, newest first; never raises."""
        self._launcher.close()

    def _start_postgres(self) -> PostgresServer:
        pg = started(PostgresServer())
        try:
            with psycopg.connect(pg.dsn, autocommit=True) as conn:
                conn.execute(AUDIT_TABLE)
        except BaseException:
            pg.destroy()
            raise
        return pg

    def exporter_sources(self) -> list[dict[str, Any]]:
        assert self.pg and self.redis and self.health
        kubeconfig = self.kube.kubeconfig(self.dir / "kubeconfig")
        return [
            argo_source(
                CLUSTER,
                kubeconfig,
                deployments={
                    "templates": ["deployment-standard"],
                    "environments": ["production", "staging", "development"],
                },
                rollbacks={"templates": ["rollback-standard"]},
            ),
            {
                "name": "backstage-db",
                "type": "postgres",
                "dsn": self.pg.dsn,
                "audit": {"actions": ["deployment.trigger", "deployment.rollback"]},
                "interval": "1s",
                "timeout": "1s",
            },
            {
                "name": "cache",
                "type": "redis",
                "url": self.redis.url,
                "interval": "1s",
                "timeout": "1s",
            },
            {
                "name": "backstage",
                "type": "http",
                "url": self.health.url,
                "interval": "1s",
                "timeout": "1s",
            },
        ]

    def _start_exporter(self) -> Exporter:
        return started(Exporter(self.exporter_sources()))

    @property
    def exporter_url(self) -> str:
        assert self.exporter is not None
        return self.exporter.url

    def _start_prometheus(self) -> PrometheusServer:
        assert self.exporter is not None
        config = prometheus_config(
            interval=SCRAPE_INTERVAL, rule_files=list(self.rule_files), targets=[self.exporter.port]
        )
        return started(PrometheusServer(config, self.rule_files))

    # -- driving incidents ------------------------------------------------------------

    def deploy(
        self,
        phase: str,
        *,
        duration: float = 120.0,
        template: str = "deployment-standard",
        environment: str = "production",
    ) -> str:
        """A deployment (or rollback) workflow that finishes now, after `duration` seconds."""
        name = f"{template}-{next(self._names)}"
        return complete_workflow(
            self.kube,
            name,
            phase,
            duration=duration,
            template=template,
            environment=environment,
        )

    def audit(self, action: str, environment: str) -> None:
        assert self.pg is not None
        with psycopg.connect(self.pg.dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO audit_log (user_entity_ref, action, metadata)"
                " VALUES ('user:default/demo', %s, jsonb_build_object('environment', %s::text))",
                (action, environment),
            )

    # -- reading through Prometheus -----------------------------------------------------

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        assert self.prometheus is not None
        return self.prometheus.value(expr)

    def firing(self, alertname: str, **labels: str) -> bool:
        assert self.prometheus is not None
        return self.prometheus.firing(alertname, **labels)
