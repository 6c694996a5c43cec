"""Shared pieces for exporter tests: run an exporter in-process, read its /metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from exporter import config
from exporter.auth import BasicAuth
from exporter.runtime import Runtime
from exporter.server import MetricsServer, tls_context
from exporter.sources import build
from exporter.sources.base import Snapshot, SourceError

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    """Every sample of a text-format exposition, keyed by (name, labels)."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


@dataclass
class Exporter:
    runtime: Runtime
    server: MetricsServer
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.port}"

    def scrape(self, **kwargs: Any) -> Series:
        resp = httpx.get(f"{self.url}/metrics", timeout=5, **kwargs)
        resp.raise_for_status()
        return parse(resp.text)

    def value(self, name: str, **labels: str) -> float | None:
        return value(self.scrape(), name, **labels)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.runtime.stop(5.0)


def start_exporter(
    cfg_text: str,
    *,
    sources: Sequence[Any] | None = None,
    clock: Callable[[], float] | None = None,
) -> Exporter:
    """Build everything from config text (as the CLI does) and serve on a free port."""
    cfg = config.parse(cfg_text, "test.yaml")
    built = (
        list(sources) if sources is not None else [build(s, process_start=0) for s in cfg.sources]
    )
    runtime = Runtime(built, **({"clock": clock} if clock else {}))
    server = MetricsServer(
        ("127.0.0.1", 0),
        runtime,
        ssl_context=tls_context(cfg.web.tls) if cfg.web.tls else None,
        auth=BasicAuth(cfg.web.basic_auth_users),
        max_requests=cfg.web.max_requests,
    )
    runtime.start()
    server.serve_in_thread()
    return Exporter(runtime, server, "https" if cfg.web.tls else "http")


class FakePoller:
    """A Poller whose next refresh result the test sets; thread-safe."""

    def __init__(self, name: str, interval: float = 0.2, timeout: float = 0.1) -> None:
        self.name = name
        self.interval = interval
        self.timeout = timeout
        self._lock = threading.Lock()
        self._next: Snapshot | SourceError = []
        self.gate: threading.Event | None = None  # set to make refresh() hang until set()
        self.refreshes = 0
        self.closed = False

    def set(self, result: Snapshot | SourceError) -> None:
        with self._lock:
            self._next = result

    def refresh(self) -> Snapshot:
        if self.gate is not None:
            self.gate.wait()
        with self._lock:
            self.refreshes += 1
            result = self._next
        if isinstance(result, SourceError):
            raise result
        return result

    def down_snapshot(self) -> Snapshot:
        return []

    def close(self) -> None:
        self.closed = True


def metrics(*families: Metric) -> list[Metric]:
    return list(families)
