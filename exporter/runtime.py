"""Runs the sources and keeps the rendered exposition that /metrics serves.

Data flows one way: each source runs on its own thread and tells its `Channel` (the
runtime's `Publisher`) what it saw; the channel stores an immutable snapshot and marks
the exposition dirty; one render thread turns all snapshots plus the self metrics into
bytes (text 0.0.4 and OpenMetrics, plain and gzip) with prometheus_client's own
encoders and swaps them in atomically. A scrape reads one attribute: it never waits on a
source, a lock or a render, whatever the number of series.
"""

from __future__ import annotations

import gzip
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TypeGuard, cast

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as _openmetrics
from prometheus_client.registry import Collector

from exporter import __version__, families
from exporter import snapshot as snapshots
from exporter.labelvalues import ERROR_REASONS
from exporter.sources.base import Poller, Snapshot, Source, SourceError

log = logging.getLogger(__name__)

GZIP_LEVEL = 6
# A render that took R seconds is followed by at least min(R, this) of quiet, so a busy
# source cannot keep a core rendering; updates arriving meanwhile are coalesced.
MAX_RENDER_PAUSE = 5.0
# The poll loop abandons a refresh that overruns its timeout by this much (the poller's
# own I/O timeouts should have fired first; this guards against one that did not).
WATCHDOG_SLACK = 1.0


@dataclass(frozen=True)
class Exposition:
    """One rendering of everything, in every format /metrics can serve."""

    generation: int
    text: bytes
    text_gzip: bytes
    openmetrics: bytes
    openmetrics_gzip: bytes


@dataclass
class _State:
    """What the runtime knows about one source; guarded by Runtime._lock."""

    snapshot: tuple[Metric, ...] = ()
    up: bool | None = None  # None until the first refresh finished
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))
    last_success: float | None = None
    duration: float | None = None
    ready: bool = False


class Channel:
    """The `Publisher` handed to one source. Every method is thread-safe."""

    def __init__(self, runtime: Runtime, name: str) -> None:
        self._runtime = runtime
        self.name = name

    def publish(self, snapshot: Snapshot) -> None:
        """Replace everything this source exposes (checked against the catalog)."""
        checked = snapshots.check(snapshot)
        self._runtime._update(self.name, lambda s: setattr(s, "snapshot", checked))

    def succeeded(self, duration: float) -> None:
        now = self._runtime.clock()

        def apply(state: _State) -> None:
            state.up = True
            state.last_success = now
            state.duration = duration

        self._runtime._update(self.name, apply)

    def failed(self, reason: str, duration: float) -> None:
        """Count the failure and withdraw the source's samples until it publishes again:
        stale data is worse than none."""
        if reason not in ERROR_REASONS:
            reason = "other"

        def apply(state: _State) -> None:
            state.up = False
            state.errors[reason] += 1
            state.duration = duration
            state.snapshot = ()

        self._runtime._update(self.name, apply)

    def count_error(self, reason: str) -> None:
        if reason not in ERROR_REASONS:
            reason = "other"
        self._runtime._update(
            self.name, lambda s: s.errors.__setitem__(reason, s.errors[reason] + 1)
        )

    def ready(self) -> None:
        self._runtime._update(self.name, lambda s: setattr(s, "ready", True), render=False)


def backoff(failures: int, interval: float, rng: random.Random) -> float:
    """Delay before retry number `failures` (>= 1): doubling from interval/8, capped at the
    interval so a recovered target is seen within a few intervals, with equal jitter so
    many exporters do not retry in lockstep."""
    ceiling = min(interval, interval / 8 * 2.0 ** min(failures - 1, 16))
    return ceiling * rng.uniform(0.5, 1.0)


class Runtime:
    def __init__(
        self,
        sources: Sequence[Source | Poller],
        *,
        version: str = __version__,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError("source names must be unique")
        self.clock = clock
        self._sources = list(sources)
        self._version = version
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._states = {name: _State() for name in names}
        self._stop = threading.Event()
        self._dirty = threading.Event()
        self._threads: list[threading.Thread] = []
        self._generation = 0
        self._exposition = self._render()

    # --- what the server reads ------------------------------------------------------

    def exposition(self) -> Exposition:
        """The latest rendering; a plain attribute read, never blocks."""
        return self._exposition

    def render(self) -> Exposition:
        """Render now, synchronously (the render thread does this on every change)."""
        self._exposition = self._render()
        return self._exposition

    def is_ready(self) -> bool:
        with self._lock:
            return all(state.ready for state in self._states.values())

    def channel(self, name: str) -> Channel:
        if name not in self._states:
            raise KeyError(name)
        return Channel(self, name)

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._spawn("render", self._render_loop)
        for source in self._sources:
            out = self.channel(source.name)
            if _is_poller(source):
                self._spawn(f"poll-{source.name}", self._poll_loop, source, out)
            else:
                self._spawn(f"run-{source.name}", self._run_loop, source, out)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread (waiting up to `timeout` in total) and close the pollers."""
        self._stop.set()
        self._dirty.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("thread %s did not stop within %.0fs", thread.name, timeout)
        for source in self._sources:
            if _is_poller(source):
                try:
                    source.close()
                except Exception:
                    log.exception("closing source %s failed", source.name)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- sources --------------------------------------------------------------------

    def _poll_loop(self, poller: Poller, out: Channel) -> None:
        # A dedicated worker runs refresh() so the loop can give up on one that hangs;
        # a hung refresh is waited on again next round rather than stacking another.
        worker = ThreadPoolExecutor(1, thread_name_prefix=f"refresh-{poller.name}")
        pending: Future[Snapshot] | None = None
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            if pending is None:
                pending = worker.submit(poller.refresh)
            reason = None
            try:
                snapshot = pending.result(timeout=poller.timeout + WATCHDOG_SLACK)
            except FutureTimeout:
                reason = "timeout"
                log.warning("source %s: refresh still running after its timeout", poller.name)
            except SourceError as exc:
                pending, reason = None, exc.reason
                log.warning("source %s: refresh failed (%s): %s", poller.name, reason, exc)
            except Exception:
                pending, reason = None, "other"
                log.exception("source %s: refresh raised", poller.name)
            else:
                pending = None
            duration = time.monotonic() - started
            if reason is None:
                failures = 0
                try:
                    out.publish(snapshot)
                    out.succeeded(duration)
                except snapshots.SnapshotError:
                    log.exception("source %s published an undeclared metric", poller.name)
                    out.failed("other", duration)
                delay = poller.interval - duration
            else:
                failures += 1
                out.failed(reason, duration)
                try:
                    out.publish(poller.down_snapshot())
                except Exception:
                    log.exception("source %s: down_snapshot failed", poller.name)
                delay = backoff(failures, poller.interval, self._rng)
            out.ready()
            self._stop.wait(max(0.0, delay))
        worker.shutdown(wait=False, cancel_futures=True)

    def _run_loop(self, source: Source, out: Channel) -> None:
        # Source.run must not raise; if it does anyway, report it and start it again.
        failures = 0
        interval = float(getattr(source, "interval", 60.0))
        while not self._stop.is_set():
            try:
                source.run(out, self._stop)
                return
            except Exception:
                failures += 1
                log.exception("source %s crashed; restarting", source.name)
                out.failed("other", 0.0)
                out.ready()
                self._stop.wait(backoff(failures, interval, self._rng))

    # --- state and rendering --------------------------------------------------------

    def _update(self, name: str, apply: Callable[[_State], None], render: bool = True) -> None:
        with self._lock:
            apply(self._states[name])
        if render:
            self._dirty.set()

    def _render_loop(self) -> None:
        while True:
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._dirty.clear()
            started = time.monotonic()
            try:
                self._exposition = self._render()
            except Exception:
                log.exception("rendering the exposition failed; serving the previous one")
            self._stop.wait(min(time.monotonic() - started, MAX_RENDER_PAUSE))

    def _render(self) -> Exposition:
        with self._lock:
            states = [(name, _copy(state)) for name, state in self._states.items()]
            self._generation += 1
            generation = self._generation
        metrics = snapshots.merge(
            [*(_with_probe(name, state) for name, state in states), self._self_metrics(states)]
        )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(metrics))
        text = generate_latest(registry)
        openmetrics = generate_openmetrics(registry)
        return Exposition(
            generation=generation,
            text=text,
            text_gzip=gzip.compress(text, GZIP_LEVEL, mtime=0),
            openmetrics=openmetrics,
            openmetrics_gzip=gzip.compress(openmetrics, GZIP_LEVEL, mtime=0),
        )

    def _self_metrics(self, states: Sequence[tuple[str, _State]]) -> list[Metric]:
        up: dict[tuple[str, ...], float] = {}
        errors: dict[tuple[str, ...], float] = {}
        last: dict[tuple[str, ...], float] = {}
        duration: dict[tuple[str, ...], float] = {}
        for name, state in states:
            for reason, count in state.errors.items():
                errors[(name, reason)] = float(count)
            if state.up is not None:
                up[(name,)] = 1.0 if state.up else 0.0
            if state.last_success is not None:
                last[(name,)] = state.last_success
            if state.duration is not None:
                duration[(name,)] = state.duration
        return [
            families.samples("idp_exporter_source_up", up),
            families.samples("idp_exporter_source_errors_total", errors),
            families.samples("idp_exporter_source_last_success_timestamp_seconds", last),
            families.samples("idp_exporter_source_refresh_duration_seconds", duration),
            families.samples("idp_exporter_build_info", {(self._version,): 1.0}),
        ]


# prometheus_client's OpenMetrics encoder is not annotated.
generate_openmetrics = cast(Callable[[Collector], bytes], _openmetrics.generate_latest)


class _Fixed(Collector):
    """A collector that yields an already-built list of families."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def _copy(state: _State) -> _State:
    return _State(
        snapshot=state.snapshot,  # immutable tuple, shared safely
        up=state.up,
        errors=dict(state.errors),
        last_success=state.last_success,
        duration=state.duration,
        ready=state.ready,
    )


def _with_probe(name: str, state: _State) -> Sequence[Metric]:
    """The snapshot plus `idp_probe_success{target=name}` from the source's health, unless
    the source reports its own (the HTTP probe does): every source is a probe target."""
    if state.up is None:
        return state.snapshot
    for metric in state.snapshot:
        if metric.name == "idp_probe_success" and any(
            s.labels.get("target") == name for s in metric.samples
        ):
            return state.snapshot
    probe = families.samples("idp_probe_success", {(name,): 1.0 if state.up else 0.0})
    return (*state.snapshot, probe)


def _is_poller(source: Source | Poller) -> TypeGuard[Poller]:
    return hasattr(source, "refresh")
