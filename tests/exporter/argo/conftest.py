"""Fixtures for the Argo source: fake API servers, configs, and a recording Publisher."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric

from devstack.kube_api import FakeKubeAPI
from devstack.servers import wait_until
from exporter.config import ArgoSourceConfig
from exporter.sources.argo import ArgoSource
from exporter.sources.base import Snapshot

# The counter epoch every test uses: objects are placed before or after it explicitly,
# so nothing depends on the wall clock.
EPOCH = 1_780_000_000.0
WAIT = 15.0


class RecordingPublisher:
    """The runtime's side of base.Publisher, recording what the source told it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.snapshot: list[Metric] = []
        self.publishes = 0
        self.calls: list[tuple[str, str]] = []  # ("succeeded", "") / ("failed", reason)
        self.is_ready = False
        self._highest: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.decreases: list[tuple[Any, float, float]] = []  # must stay empty

    def publish(self, snapshot: Snapshot) -> None:
        with self._lock:
            self.snapshot = list(snapshot)
            self.publishes += 1
            self._check_monotonic(snapshot)

    def _check_monotonic(self, snapshot: Snapshot) -> None:
        """Record any counter or histogram sample lower than it was in an earlier publish."""
        for family in snapshot:
            if family.type not in ("counter", "histogram"):
                continue
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                old = self._highest.get(key)
                if old is not None and s.value < old:
                    self.decreases.append((key, old, s.value))
                self._highest[key] = max(s.value, old or 0.0)

    def succeeded(self, duration: float) -> None:
        assert duration >= 0
        with self._lock:
            self.calls.append(("succeeded", ""))

    def failed(self, reason: str, duration: float) -> None:
        assert duration >= 0
        with self._lock:
            self.calls.append(("failed", reason))

    def count_error(self, reason: str) -> None:
        with self._lock:
            self.calls.append(("error", reason))

    def ready(self) -> None:
        with self._lock:
            self.is_ready = True

    # -- what tests ask ------------------------------------------------------------------

    @property
    def up(self) -> bool:
        with self._lock:
            health = [kind for kind, _ in self.calls if kind != "error"]
            return bool(health) and health[-1] == "succeeded"

    def errors(self, reason: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for kind, r in self.calls if kind in ("failed", "error") and reason in (None, r)
            )

    def value(self, sample: str, **labels: str) -> float | None:
        """The value of one sample in the latest snapshot (None if absent)."""
        with self._lock:
            families = list(self.snapshot)
        for family in families:
            for s in family.samples:
                if s.name == sample and s.labels == labels:
                    return float(s.value)
        return None

    def series(self, sample: str) -> dict[tuple[tuple[str, str], ...], float]:
        with self._lock:
            families = list(self.snapshot)
        return {
            tuple(sorted(s.labels.items())): float(s.value)
            for family in families
            for s in family.samples
            if s.name == sample
        }


def argo_config(kubeconfig: Path, **overrides: Any) -> ArgoSourceConfig:
    raw: dict[str, Any] = {
        "name": "us-east-1",
        "type": "argo",
        "cluster": "us-east-1",
        "kubeconfig": str(kubeconfig),
        "context": "fake",
        "namespaces": ["argo"],
        "deployments": {
            "templates": ["deployment-standard"],
            "environments": ["production", "staging"],
        },
        "rollbacks": {"templates": ["rollback-standard"]},
        "interval": "30s",
        "timeout": "2s",
    }
    raw.update(overrides)
    return ArgoSourceConfig.model_validate(raw)


class Running:
    """An ArgoSource running on its own thread, as the runtime runs it."""

    def __init__(self, cfg: ArgoSourceConfig, epoch: float = EPOCH) -> None:
        self.source = ArgoSource(cfg, process_start=epoch, publish_every=0.05)
        self.out = RecordingPublisher()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.source.run, args=(self.out, self.stop))
        self.thread.start()

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        wait_until(condition, timeout, what)

    def wait_ready(self) -> None:
        self.wait(lambda: self.out.is_ready, "source ready")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive(), "source did not stop within 10s"


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    server = FakeKubeAPI(bookmark_interval=0.2).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(api: FakeKubeAPI, tmp_path: Path) -> Path:
    return api.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def run_source() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(cfg: ArgoSourceConfig, epoch: float = EPOCH) -> Running:
        running = Running(cfg, epoch)
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


def at(offset: float) -> float:
    """A time `offset` seconds after the epoch (negative: before the process started)."""
    return EPOCH + offset
