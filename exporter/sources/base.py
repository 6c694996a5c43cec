"""The one small interface between a source and the runtime.

A source watches or polls one thing (a cluster, a database, a URL) on its own thread and
tells the runtime what it saw through a `Publisher`. The runtime owns everything else:
self metrics, readiness, rendering the exposition. Sources never render, never serve.

Two shapes of source exist:
- `Source.run(out, stop)`: the source drives itself (Kubernetes list+watch).
- `Poller.refresh()`: called on a schedule by the runtime's poll loop, which owns
  timeouts, backoff with jitter and the publish/succeed/fail calls (PostgreSQL, Redis,
  HTTP probes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from prometheus_client.metrics_core import Metric

from exporter.labelvalues import ERROR_REASONS

# A source's samples: prometheus_client metric families, built only through
# `exporter.families` so that nothing outside the catalog can be emitted. The runtime
# treats a published sequence as immutable.
Snapshot = Sequence[Metric]


class SourceError(Exception):
    """A refresh failed for one of the catalog's fixed reasons.

    The message is for logs only (already redacted by the source); it never becomes a
    label. `reason` is one of `exporter.labelvalues.ERROR_REASONS`.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in ERROR_REASONS:
            raise ValueError(f"unknown error reason {reason!r}")
        super().__init__(message)
        self.reason = reason


class Publisher(Protocol):
    """What a source may tell the runtime. All methods are thread-safe."""

    def publish(self, snapshot: Snapshot) -> None:
        """Replace everything this source currently exposes."""

    def succeeded(self, duration: float) -> None:
        """A refresh (or the initial list, or a resync) finished without error."""

    def failed(self, reason: str, duration: float) -> None:
        """A refresh failed; `reason` is one of ERROR_REASONS."""

    def count_error(self, reason: str) -> None:
        """Count an error that does not make the source down (e.g. one unreadable object
        among many): the samples and `source_up` stay as they are."""

    def ready(self) -> None:
        """The first refresh or initial list finished, whether it succeeded or not."""


class Source(Protocol):
    """A source that drives its own loop (e.g. list+watch)."""

    name: str

    def run(self, out: Publisher, stop: threading.Event) -> None:
        """Run until `stop` is set; never raise (report failures through `out`)."""


class Poller(Protocol):
    """A source refreshed on a schedule by the runtime's poll loop."""

    name: str
    interval: float  # seconds between refreshes
    timeout: float  # seconds one refresh may take; the poller enforces it on its own I/O

    def refresh(self) -> Snapshot:
        """Query the target once and return the full snapshot, or raise SourceError."""

    def down_snapshot(self) -> Snapshot:
        """What to expose while the target is down: only `*_up`/`idp_probe_success` 0
        and nothing stale (counters reappear with their value once the target is back)."""

    def close(self) -> None:
        """Release connections; called once when the runtime stops."""
