"""The closed loop: exporter SLIs -> generated rules in a real Prometheus -> alerts.

Rules come from tests/e2e/e2e-slo.yaml rendered by the idp-rulegen CLI (1d period, page
windows of seconds) plus the repo's own rendered bundle, so every dashboard query of the
repo can be run against live data at the end. Each alert's time from incident to firing
is printed (run pytest with -s to see it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.servers import wait_until
from devstack.stack import Stack, one_prometheus_rules

from .dashboard_queries import unanswered

HERE = Path(__file__).parent
REPO = HERE.parent.parent
DEPLOY_SLO = "e2e-deployment-success"
PROBE_SLO = "e2e-backstage-availability"


def render_rules(spec: Path, out: Path) -> str:
    """Render `spec` with the idp-rulegen CLI, as a user would, and return its rule file."""
    subprocess.run(
        [str(Path(sys.executable).parent / "idp-rulegen"), "render", str(spec), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    (rules,) = (out / "alerts").glob("*.rules.yml")
    return rules.read_text()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    out = tmp_path_factory.mktemp("rendered")
    rule_files = {
        "e2e.rules.yml": render_rules(HERE / "e2e-slo.yaml", out / "e2e"),
        "idp.rules.yml": one_prometheus_rules(REPO / "slo.yaml"),
    }
    with Stack.up(rule_files) as s:
        yield s


class Traffic:
    """Creates deployment workflows at `per_second`, failing a `failure_share` of them
    (evenly spread, deterministic) until stopped."""

    def __init__(self, stack: Stack, per_second: float = 2.0) -> None:
        self.stack = stack
        self.per_second = per_second
        self.failure_share = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        owed = 0.0  # failures owed so far under the current share
        while True:
            owed += self.failure_share
            fail = owed >= 1 - 1e-9
            owed -= 1 if fail else 0
            self.stack.deploy("Failed" if fail else "Succeeded")
            if self._stop.wait(1 / self.per_second):
                return


def timed(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    wait_until(condition, timeout, what, interval=0.25)
    return time.monotonic() - start


def page(stack: Stack, slo: str, long_window: str) -> bool:
    return stack.firing("ErrorBudgetBurn", slo=slo, severity="critical", long_window=long_window)


def test_failed_deployments_fire_the_page_alert_only_above_its_threshold(stack: Stack) -> None:
    ratio20s = f'slo:sli_error:ratio_rate20s{{slo="{DEPLOY_SLO}"}}'
    with Traffic(stack) as traffic:
        # Healthy traffic: the ratio is measured, and it is 0.
        wait_until(lambda: stack.value(ratio20s) == 0.0, 30, "a zero error ratio", 0.25)
        assert not page(stack, DEPLOY_SLO, "20s")

        # Half the deployments fail: above the 1m tier's 30 % threshold, below the 20s
        # tier's 72 %. The 1m tier fires; the 20s tier must stay silent throughout.
        traffic.failure_share = 0.5
        slow = timed(lambda: page(stack, DEPLOY_SLO, "1m"), 60, "the 6x (1m/10s) page")
        settle = time.monotonic() + 25  # > the 20s window: its ratio has settled at 0.5
        while time.monotonic() < settle:
            assert not page(stack, DEPLOY_SLO, "20s"), "the 14.4x page fired at a 50% error ratio"
            time.sleep(0.5)
        assert 0.4 <= (stack.value(ratio20s) or 0) <= 0.6

        # Every deployment fails: the 14.4x tier fires.
        traffic.failure_share = 1.0
        fast = timed(lambda: page(stack, DEPLOY_SLO, "20s"), 60, "the 14.4x (20s/5s) page")
    print(
        f"\n[e2e] deployment success: 6x page fired {slow:.1f}s after 50% of deployments "
        f"started failing; 14.4x page {fast:.1f}s after all did"
    )
    # From 50 % to 100 % errors, the 20s ratio crosses 72 % after 0.44 x 20s = 8.8s, plus
    # up to ~4 s of watch, scrape and evaluation delay.
    assert fast < 30


def test_failing_health_check_fires_the_availability_page(stack: Stack) -> None:
    assert stack.health is not None
    wait_until(
        lambda: stack.value(f'slo:sli_error:ratio_rate5s{{slo="{PROBE_SLO}"}}') == 0.0,
        30,
        "a measured availability",
        0.25,
    )
    assert not page(stack, PROBE_SLO, "20s")
    stack.health.status = 500
    try:
        took = timed(lambda: page(stack, PROBE_SLO, "20s"), 60, "the availability page")
        assert stack.value('idp_probe_success{target="backstage"}') == 0
    finally:
        stack.health.status = 200
    print(
        f"\n[e2e] availability: 14.4x page fired {took:.1f}s after the health check "
        f"started answering 500"
    )
    assert took < 20


def test_redis_down_and_back(stack: Stack) -> None:
    assert stack.redis is not None
    up = 'idp_redis_up{target="cache"}'
    wait_until(lambda: stack.value(up) == 1, 30, "redis up", 0.25)
    stack.redis.stop()
    took_down = timed(lambda: stack.value(up) == 0, 30, "idp_redis_up 0")
    assert stack.value('idp_exporter_source_up{source="backstage-db"}') == 1  # others unaffected
    stack.redis.start()
    took_up = timed(lambda: stack.value(up) == 1, 30, "idp_redis_up back to 1")
    print(f"\n[e2e] redis: seen down after {took_down:.1f}s, back up {took_up:.1f}s after restart")


def test_slow_rollback_lands_in_the_histogram(stack: Stack) -> None:
    stack.deploy("Succeeded", template="rollback-standard", duration=400)
    sel = 'cluster="e2e",environment="production",mechanism="workflow"'
    wait_until(
        lambda: stack.value(f"idp_rollback_duration_seconds_count{{{sel}}}") == 1,
        30,
        "the rollback in Prometheus",
        0.25,
    )
    assert stack.value(f'idp_rollback_duration_seconds_bucket{{{sel},le="300.0"}}') == 0
    assert stack.value(f'idp_rollback_duration_seconds_bucket{{{sel},le="600.0"}}') == 1
    assert stack.value(f"idp_rollback_duration_seconds_sum{{{sel}}}") == 400
    assert stack.value(f'idp_rollbacks_total{{{sel},result="succeeded"}}') == 1


def test_audit_rows_are_counted(stack: Stack) -> None:
    for _ in range(3):
        stack.audit("deployment.trigger", "production")
    stack.audit("deployment.rollback", "staging")
    base = 'idp_audit_events_total{target="backstage-db",action='
    wait_until(
        lambda: stack.value(base + '"deployment.trigger",environment="production"}') == 3,
        30,
        "three audit events",
        0.25,
    )
    wait_until(
        lambda: stack.value(base + '"deployment.rollback",environment="staging"}') == 1,
        30,
        "one rollback audit event",
        0.25,
    )


# -- every dashboard query of the repo's bundle, against live data -----------------------


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((REPO / "dashboards").glob("*.json"))]


def per_cluster(expr: str) -> bool:
    """The SLO dashboards' per-cluster panels read the cluster label of the base
    recordings, which only the global Prometheus of a split spec sees (each cluster's
    external label): one Prometheus has none. test_clusters.py runs them there."""
    return bool(re.search(r"slo:sli_(error|total)_events:\w+\{[^}]*cluster=~", expr))


def test_every_dashboard_query_executes_and_ours_return_data(stack: Stack) -> None:
    rendered = dashboards()
    assert {d["uid"] for d in rendered} >= {
        "idp-overview",
        "backstage-health",
        "argo-workflows",
        "clusters",
        "slo-overview",
        "slo-detail",
    }
    assert stack.prometheus is not None
    # Every SLI of the repo needs some traffic of its own (this test may run alone). A
    # rate needs an increase after the series appears, hence two rollbacks.
    rollbacks = "sum(idp_rollback_duration_seconds_count)"
    first = stack.value(rollbacks) or 0
    stack.deploy("Succeeded", template="rollback-standard", duration=90)
    wait_until(lambda: (stack.value(rollbacks) or 0) > first, 30, "a rollback", 0.25)
    stack.deploy("Succeeded", template="rollback-standard", duration=90)
    stack.audit("deployment.trigger", "production")
    with Traffic(stack) as traffic:
        traffic.failure_share = 0.2
        for slo in ("deployment-success", "rollback-time"):
            wait_until(
                lambda slo=slo: (
                    stack.value(f'slo:sli_error:ratio_rate1d{{slo="{slo}"}}') is not None
                ),
                60,
                f"the repo's 1d error ratio of {slo}",
                0.5,
            )
    empty, executed = unanswered(stack.prometheus, rendered, exempt=per_cluster)
    print(f"\n[e2e] {executed} dashboard queries executed")
    assert not empty, (
        "queries on idp-exporter metrics or recording rules returned nothing:\n" + "\n".join(empty)
    )
