"""Split mode end to end, real processes only: three clusters (a fake Kubernetes API, an
idp-exporter and a Prometheus each, external label `cluster`, loading the cluster rules
and remote-writing the base recordings) and a central Prometheus with the remote-write
receiver loading the global rules (devstack/topology.py).

Deployments fail in us-west-1 only: the global ratio is the traffic-weighted one, the
per-cluster figures show only us-west-1 failing, and the 6x page fires for the global
SLO. Then us-west-1's Prometheus stops: SLOClusterMissing fires for it, and the global
SLI goes absent instead of improving on the two healthy clusters' data.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.servers import PrometheusServer, wait_until
from devstack.stack import without_group_intervals
from devstack.topology import SPEC as SPEC_FILE
from devstack.topology import Topology, render_split, with_alert_for

from .dashboard_queries import unanswered

SPEC = "clusters"  # SPEC_FILE's metadata.name
SLO = f'slo="deployment-success", slo_spec="{SPEC}"'
# (succeeded, failed) per cluster: us-west-1 is the quiet one, and the only one failing.
COUNTS = {"us-east-1": (30, 0), "us-west-1": (4, 6), "eu-central-1": (20, 0)}
WEIGHTED = 6 / 60  # errors summed / totals summed: below the 14.4x page (14.4 %), above 6x
MEAN_OF_RATIOS = (0 + 0.6 + 0) / 3  # what an unweighted average would say: 20 %, a 14.4x page
RATIO = f"slo:sli_error:ratio_rate10s{{{SLO}}}"
GLOBAL_ERRORS = f"slo:sli_global_error_events:rate5m{{{SLO}}}"


def topology_up(
    out: Path, *, federate: bool = False
) -> contextlib.AbstractContextManager[Topology]:
    """The topology loading the split render of SPEC_FILE; up once the global SLI is."""
    cluster_rules, global_rules = render_split(SPEC_FILE, out)
    assert list(cluster_rules) == [f"{SPEC}.cluster.rules.yml"]
    assert list(global_rules) == [f"{SPEC}.global.rules.yml"]
    # SLOClusterMissing's 10m `for` is the rendered one (asserted here); the test waits 2s.
    assert all("for: 10m" in text for text in global_rules.values())
    global_rules = {
        name: with_alert_for(without_group_intervals(text), "SLOClusterMissing", "2s")
        for name, text in global_rules.items()
    }
    return _up(cluster_rules, global_rules, federate)


@contextlib.contextmanager
def _up(cluster: dict[str, str], central: dict[str, str], federate: bool) -> Iterator[Topology]:
    with Topology.up(cluster, central, federate=federate) as t:
        # The global SLI is recorded once every listed cluster reports.
        wait_until(
            lambda: t.global_view().value(f"slo:sli_global_total_events:rate5m{{{SLO}}}") == 0,
            30,
            "the global SLI of three idle clusters",
            0.25,
        )
        yield t


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rendered")


@pytest.fixture(scope="module")
def topology(rendered: Path) -> Iterator[Topology]:
    with topology_up(rendered) as t:
        yield t


def per_cluster(central: PrometheusServer, expr: str) -> dict[str, float]:
    result = central.query(expr)
    return {str(r["metric"]["cluster"]): float(r["value"][1]) for r in result}  # type: ignore[index]


def deploy_and_settle(topology: Topology, cluster: str) -> float:
    """Complete `cluster`'s deployments, wait until the central Prometheus's base
    recordings for it come from a scrape that counted them all, and return that moment."""
    succeeded, failed = COUNTS[cluster]
    stack = topology.clusters[cluster]
    for _ in range(succeeded):
        stack.deploy("Succeeded")
    for _ in range(failed):
        stack.deploy("Failed")
    local = topology.prometheus(cluster)
    wait_until(
        lambda: local.value("sum(idp_deployments_total)") == succeeded + failed,
        30,
        f"{cluster}'s Prometheus scraping every deployment",
        0.25,
    )
    counted = time.time()
    stamp = f'timestamp(slo:sli_total_events:rate5m{{{SLO}, cluster="{cluster}"}})'
    wait_until(
        lambda: (topology.global_view().value(stamp) or 0) > counted + 1,
        30,
        f"{cluster}'s base recordings after the count, in the central Prometheus",
        0.25,
    )
    return time.time()


def test_only_base_recordings_cross_the_wire_and_they_carry_the_cluster_label(
    topology: Topology,
) -> None:
    central = topology.global_view()
    assert topology.reporting() == set(COUNTS)
    assert central.query("idp_deployments_total") == []  # no raw series shipped
    names = central.query('group by (__name__) ({__name__=~".+"})')
    assert {str(r["metric"]["__name__"]) for r in names} >= {  # type: ignore[index]
        "slo:sli_error_events:rate5m",
        "slo:sli_total_events:rate5m",
        "slo:sli_global_total_events:rate5m",
    }
    for name in COUNTS:
        (local,) = topology.prometheus(name).query(f"slo:sli_total_events:rate5m{{{SLO}}}")
        # Recorded without a cluster label: the external label adds it on the way out.
        assert "cluster" not in local["metric"]  # type: ignore[operator]
        assert central.query(f'slo:sli_total_events:rate5m{{{SLO}, cluster="{name}"}}')


def page(central: PrometheusServer, long_window: str) -> bool:
    return central.firing("ErrorBudgetBurn", slo_spec=SPEC, long_window=long_window)


def no_fast_page_and(
    central: PrometheusServer, condition: Callable[[], bool]
) -> Callable[[], bool]:
    """`condition`, polled only after asserting the 14.4x page is silent."""

    def check() -> bool:
        assert not page(central, "20s"), "the 14.4x page fired: errors were not traffic-weighted"
        return condition()

    return check


def test_one_failing_cluster_burns_the_global_budget_by_traffic_then_a_lost_one_pages(
    topology: Topology, rendered: Path
) -> None:
    central = topology.global_view()
    # The healthy clusters first: us-west-1's errors arriving alone would be a 60 % ratio.
    deploy_and_settle(topology, "us-east-1")
    deploy_and_settle(topology, "eu-central-1")
    settled = deploy_and_settle(topology, "us-west-1")
    burning_after = time_to(no_fast_page_and(central, lambda: page(central, "1m")), 60, "6x page")
    measured = check_burn(central, settled)
    # Every query of the split render's dashboards answers on the global Prometheus, the
    # per-cluster panels (which one Prometheus cannot feed) included.
    dashboards = [
        json.loads(p.read_text()) for p in sorted((rendered / "dashboards").glob("*.json"))
    ]
    empty, executed = unanswered(central, dashboards)
    assert executed > 0 and not empty, "dashboard queries returned nothing:\n" + "\n".join(empty)

    topology.prometheus("us-west-1").stop()
    missing_after = time_to(lambda: lost(central, "us-west-1"), 40, "SLOClusterMissing")
    assert not central.firing("SLOClusterMissing", cluster="us-east-1")
    assert not central.firing("SLOClusterMissing", cluster="eu-central-1")
    assert central.query(f"slo:sli_global_error_events:rate5m{{{SLO}}}") == []
    wait_until(
        lambda: lost(central, "us-west-1") and central.value(RATIO) is None,
        30,
        "no global SLI while us-west-1 is missing",
        0.25,
    )
    # What a sum over the clusters still reporting would have shown instead: no errors.
    partial = (
        f"sum(slo:sli_error_events:rate5m{{{SLO}}}) / sum(slo:sli_total_events:rate5m{{{SLO}}})"
    )
    assert central.value(partial) == 0
    print(
        f"\n[e2e clusters] global 10s error ratio {measured:.4f} (traffic-weighted "
        f"{WEIGHTED:.4f}, mean of ratios {MEAN_OF_RATIOS:.4f}); 6x page {burning_after:.1f}s "
        f"after us-west-1's errors reached the central Prometheus; SLOClusterMissing "
        f"{missing_after:.1f}s after its Prometheus stopped"
    )


def time_to(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    wait_until(condition, timeout, what, 0.25)
    return time.monotonic() - start


def check_burn(central: PrometheusServer, settled: float) -> float:
    """Assert the global ratio, the per-cluster figures and the page's labels; return the
    global 10s ratio. From `settled` on, the central Prometheus has every deployment."""
    # The 10s window must hold only global samples computed from every deployment: a
    # scrape may have caught us-west-1's deployments half counted.
    stamp = f"timestamp({GLOBAL_ERRORS})"
    wait_until(
        no_fast_page_and(central, lambda: (central.value(stamp) or 0) > settled + 11),
        30,
        "a 10s window wholly after the last deployment",
        0.25,
    )
    measured = central.value(RATIO) or 0
    # rate() extrapolates each cluster's increase to the window's end by up to one scrape
    # interval, a percent or two apart between clusters; far from 20 % or us-west-1's 60 %.
    assert measured == pytest.approx(WEIGHTED, rel=0.05)
    assert abs(measured - MEAN_OF_RATIOS) > 0.05
    # Per cluster, in one query (one instant): only us-west-1 fails, 6 of its 10 exactly,
    # since its error and total series share their samples and so their extrapolation.
    ratios = per_cluster(
        central,
        f"sum by (cluster) (slo:sli_error_events:rate5m{{{SLO}}})"
        f" / sum by (cluster) (slo:sli_total_events:rate5m{{{SLO}}})",
    )
    assert ratios == {"us-east-1": 0, "us-west-1": pytest.approx(0.6, rel=1e-9), "eu-central-1": 0}
    alerts = central.query(f'ALERTS{{alertname="ErrorBudgetBurn", alertstate="firing", {SLO}}}')
    tiers = {str(a["metric"]["long_window"]): a["metric"] for a in alerts}  # type: ignore[index]
    # The ticket tiers (3x, 1x) fire too: their windows reach back past the test's start,
    # so they hold the same 10 %. Only the 14.4x page stays silent.
    assert set(tiers) == {"1m", "48m", "2h24m"}
    assert tiers["1m"] == {
        "__name__": "ALERTS",
        "alertname": "ErrorBudgetBurn",
        "alertstate": "firing",
        "slo": "deployment-success",
        "slo_spec": SPEC,
        "service": "argo-workflows",
        "team": "platform",
        "severity": "critical",
        "long_window": "1m",
        "short_window": "10s",
    }
    return measured


def lost(central: PrometheusServer, cluster: str) -> bool:
    """Whether SLOClusterMissing fires for `cluster`; until the global SLI vanishes it must
    keep its value, never a rosier one computed from the clusters left."""
    seen = central.value(RATIO)
    assert seen is None or seen >= WEIGHTED * 0.9, f"the global SLI improved to {seen}"
    return central.firing("SLOClusterMissing", slo_spec=SPEC, cluster=cluster)
