"""The runtime: snapshots, self metrics, rendering, failure and recovery, catalog checks."""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.metrics_core import GaugeMetricFamily

from common import catalog
from devstack.servers import wait_until
from exporter import families
from exporter.runtime import Runtime, backoff
from exporter.snapshot import SnapshotError
from exporter.sources.base import SourceError
from tests.exporter.helpers import Exporter, FakePoller, parse, start_exporter, value

FIXED_NOW = 1_700_000_000.0
CFG = "sources: [{name: unused, type: http, url: 'http://127.0.0.1:1/'}]"


def _db_snapshot(target: str, connections: float) -> list[object]:
    return [
        families.samples("idp_postgres_up", {(target,): 1.0}),
        families.samples("idp_postgres_connections", {(target, "app"): connections}),
        families.samples("idp_postgres_max_connections", {(target,): 100.0}),
    ]


def _fixed_runtime() -> Runtime:
    """Two sources with fixed inputs, driven through their channels (no threads)."""
    rt = Runtime([FakePoller("db-a"), FakePoller("web")], version="1.2.3", clock=lambda: FIXED_NOW)
    db = rt.channel("db-a")
    db.publish(_db_snapshot("db-a", 7))
    db.succeeded(0.25)
    web = rt.channel("web")
    hist = families.Histogram(catalog.PROBE_BUCKETS)
    for seconds in (0.03, 0.2, 0.7):
        hist.observe(seconds)
    web.failed("timeout", 1.5)
    web.publish(
        [
            families.samples("idp_probe_success", {("web",): 0.0}),
            families.samples(
                "idp_probes_total", {("web", "success"): 3.0, ("web", "failure"): 1.0}
            ),
            families.histogram_family("idp_probe_duration_seconds", {("web",): hist}),
        ]
    )
    return rt


def test_golden_exposition(golden: Callable[[str, bytes], None]) -> None:
    exposition = _fixed_runtime().render()
    golden("runtime.prom", exposition.text)
    golden("runtime.openmetrics", exposition.openmetrics)
    assert gzip.decompress(exposition.text_gzip) == exposition.text
    assert gzip.decompress(exposition.openmetrics_gzip) == exposition.openmetrics


def test_promtool_finds_nothing(promtool: str, tmp_path: object) -> None:
    import subprocess

    text = _fixed_runtime().render().text
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"" and proc.stderr == b"", (proc.stdout, proc.stderr)


def test_every_emitted_series_is_in_the_catalog() -> None:
    series = parse(_fixed_runtime().render().text.decode())
    allowed = catalog.series_names()
    for name, labels in series:
        assert name in allowed, name
        family = catalog.family_of(name)
        assert family is not None
        assert {k for k, _ in labels} - {"le"} == set(family.labels), name


def test_probe_success_exists_for_every_source_type() -> None:
    series = parse(_fixed_runtime().render().text.decode())
    # db-a never published one: the runtime derives it from the source's health.
    assert value(series, "idp_probe_success", target="db-a") == 1.0
    assert value(series, "idp_probe_success", target="web") == 0.0


def test_publishing_an_undeclared_metric_is_refused() -> None:
    rt = Runtime([FakePoller("x")])
    with pytest.raises(SnapshotError, match="not in the metric catalog"):
        rt.channel("x").publish([GaugeMetricFamily("idp_made_up", "no", value=1)])
    wrong_labels = GaugeMetricFamily("idp_postgres_up", "h", labels=["target", "dsn"])
    wrong_labels.add_metric(["x", "postgresql://u:p@h/db"], 1)
    with pytest.raises(SnapshotError, match="labels"):
        rt.channel("x").publish([wrong_labels])
    assert b"idp_made_up" not in rt.render().text


class Idle:
    """A self-driven source that does nothing until the test speaks through its channel."""

    name = "x"

    def run(self, out: object, stop: threading.Event) -> None:
        stop.wait()


def test_nothing_changes_nothing_is_rendered() -> None:
    rt = Runtime([Idle()])
    rt.start()
    try:
        first = rt.exposition().generation
        rt.channel("x").ready()  # readiness is not exposition
        time.sleep(0.05)  # give a (wrong) re-render the chance to happen
        assert rt.exposition().generation == first
        rt.channel("x").succeeded(0.1)
        wait_until(lambda: rt.exposition().generation > first, 5, "a re-render")
    finally:
        rt.stop()


def test_a_counted_error_keeps_the_source_up_and_its_samples() -> None:
    rt = Runtime([Idle()])
    out = rt.channel("x")
    out.publish([families.samples("idp_workflows", {("c", "argo", "Running"): 2})])
    out.succeeded(0.1)
    out.count_error("parse")
    text = parse(rt.render().text.decode())
    assert value(text, "idp_exporter_source_up", source="x") == 1
    assert value(text, "idp_exporter_source_errors_total", source="x", reason="parse") == 1
    assert value(text, "idp_workflows", cluster="c", namespace="argo", phase="Running") == 2


@pytest.fixture
def running() -> tuple[Exporter, FakePoller, FakePoller]:
    a, b = FakePoller("a"), FakePoller("b")
    a.set(_db_snapshot("a", 3))
    b.set(_db_snapshot("b", 5))
    exp = start_exporter(CFG, sources=[a, b])
    yield exp, a, b  # type: ignore[misc]
    exp.stop()


def test_failing_source_drops_samples_and_recovers(
    running: tuple[Exporter, FakePoller, FakePoller],
) -> None:
    exp, a, _b = running
    wait_until(
        lambda: exp.value("idp_postgres_connections", target="a", database="app") == 3, 5, "a up"
    )
    a.set(SourceError("connection", "refused"))
    wait_until(lambda: exp.value("idp_exporter_source_up", source="a") == 0, 5, "a down")
    series = exp.scrape()
    assert (
        value(series, "idp_postgres_connections", target="a", database="app") is None
    )  # no stale data
    assert value(series, "idp_probe_success", target="a") == 0
    assert value(series, "idp_exporter_source_errors_total", source="a", reason="connection") >= 1  # type: ignore[operator]
    assert value(series, "idp_exporter_source_up", source="b") == 1  # the other one is untouched
    assert value(series, "idp_postgres_connections", target="b", database="app") == 5
    a.set(_db_snapshot("a", 4))
    # backoff is capped at the interval (0.2 s): back within 3 intervals of recovery
    started = time.monotonic()
    wait_until(lambda: exp.value("idp_exporter_source_up", source="a") == 1, 5, "a back")
    assert time.monotonic() - started < 3 * a.interval + 0.3
    assert exp.value("idp_postgres_connections", target="a", database="app") == 4


def test_hung_refresh_is_a_counted_timeout_and_scrapes_still_answer(
    running: tuple[Exporter, FakePoller, FakePoller],
) -> None:
    exp, a, _b = running
    wait_until(lambda: exp.value("idp_exporter_source_up", source="a") == 1, 5, "a up")
    a.gate = threading.Event()  # the next refresh never returns until released
    try:
        wait_until(
            lambda: (
                (exp.value("idp_exporter_source_errors_total", source="a", reason="timeout") or 0)
                >= 1
            ),
            10,
            "watchdog timeout",
        )
        started = time.monotonic()
        httpx.get(f"{exp.url}/metrics", timeout=2).raise_for_status()
        assert time.monotonic() - started < 0.5
        assert exp.value("idp_exporter_source_up", source="a") == 0
        assert exp.value("idp_exporter_source_up", source="b") == 1
    finally:
        a.gate.set()
    wait_until(lambda: exp.value("idp_exporter_source_up", source="a") == 1, 5, "a back")


def test_readiness_waits_for_every_first_refresh() -> None:
    slow, fast = FakePoller("slow"), FakePoller("fast")
    slow.gate = threading.Event()
    slow.set(SourceError("other", "boom"))
    exp = start_exporter(CFG, sources=[slow, fast])
    try:
        assert httpx.get(f"{exp.url}/readyz").status_code == 503
        slow.gate.set()
        # ready even though the first refresh failed: down is not unready
        wait_until(lambda: httpx.get(f"{exp.url}/readyz").status_code == 200, 5, "ready")
        assert exp.value("idp_exporter_source_up", source="slow") == 0
    finally:
        exp.stop()
    assert slow.closed and fast.closed


def test_crashing_run_source_is_restarted() -> None:
    class Flaky:
        name = "flaky"
        interval = 0.2

        def __init__(self) -> None:
            self.runs = 0

        def run(self, out: object, stop: threading.Event) -> None:
            self.runs += 1
            if self.runs == 1:
                raise RuntimeError("bug")
            out.ready()  # type: ignore[attr-defined]
            out.succeeded(0.0)  # type: ignore[attr-defined]
            stop.wait()

    source = Flaky()
    rt = Runtime([source])
    rt.start()
    try:
        wait_until(lambda: source.runs == 2 and rt.is_ready(), 5, "restart")
        wait_until(
            lambda: b'idp_exporter_source_up{source="flaky"} 1.0' in rt.exposition().text, 5, "up"
        )
        assert (
            b'idp_exporter_source_errors_total{reason="other",source="flaky"} 1.0'
            in rt.exposition().text
        )
    finally:
        rt.stop()


@given(failures=st.integers(1, 1000), interval=st.floats(0.01, 3600), seed=st.integers(0, 2**32))
def test_backoff_is_capped_at_the_interval(failures: int, interval: float, seed: int) -> None:
    delay = backoff(failures, interval, random.Random(seed))
    assert interval / 16 <= delay <= interval


def test_backoff_doubles() -> None:
    rng = random.Random(1)
    ceilings = [max(backoff(n, 8.0, rng) for _ in range(200)) for n in (1, 2, 3, 4, 5)]
    assert [round(c) for c in ceilings] == [1, 2, 4, 8, 8]
