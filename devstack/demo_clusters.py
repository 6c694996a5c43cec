"""`make demo ARGS="--clusters 3"`: split mode live. Three clusters (a fake Kubernetes API,
idp-exporter and Prometheus each) remote-write their base recordings to a central
Prometheus that evaluates the global SLO of devstack/three-clusters-slo.yaml, rendered by
idp-rulegen at start. The scenario: healthy deployments everywhere; most of us-west-1's
(the quiet cluster's) deployments fail until the global page fires; us-west-1's Prometheus
stops until SLOClusterMissing fires; it comes back. Every alert of the central Prometheus
is printed as it fires.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from devstack.servers import PrometheusServer
from devstack.stack import without_group_intervals
from devstack.topology import SPEC, Topology, render_split, with_alert_for

# Deployments per second: us-west-1 is the quiet cluster.
RATES = {"us-east-1": 2.0, "eu-central-1": 1.0, "us-west-1": 0.5}
TICK = 0.5
MISSING_FOR = "10s"  # SLOClusterMissing's generated 10m, shortened for the demo


class Traffic:
    """Deployments in every cluster at RATES, failing `failing[cluster]` of them (evenly
    spread), one tick at a time."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.failing: dict[str, float] = {}
        self._owed = dict.fromkeys(RATES, 0.0)
        self._failures_owed = dict.fromkeys(RATES, 0.0)

    def tick(self) -> None:
        for name, per_second in RATES.items():
            self._owed[name] += per_second * TICK
            while self._owed[name] >= 1:
                self._owed[name] -= 1
                self._failures_owed[name] += self.failing.get(name, 0.0)
                fail = self._failures_owed[name] >= 1 - 1e-9
                self._failures_owed[name] -= 1 if fail else 0
                self.topology.clusters[name].deploy("Failed" if fail else "Succeeded")


def scenario(
    topology: Topology, stop: threading.Event, say: Callable[[str], None], timeout: float = 120
) -> None:
    central = topology.global_view()
    traffic = Traffic(topology)

    def until(condition: Callable[[], bool], seconds: float) -> bool:
        """Keep the traffic flowing until `condition` or `seconds`; False once stopped."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not condition():
            traffic.tick()
            if stop.wait(TICK):
                return False
        return True

    say(f"scenario: healthy deployments, per second: {RATES}")
    if not until(lambda: False, 5):
        return
    say("incident: 80% of us-west-1's deployments fail (about 11% of all, traffic-weighted)")
    traffic.failing["us-west-1"] = 0.8
    if not until(lambda: central.firing("ErrorBudgetBurn", long_window="1m"), timeout):
        return
    say("recovery: us-west-1's deployments succeed again")
    traffic.failing.clear()
    say("incident: us-west-1's Prometheus stops: no global SLI until it is back")
    topology.prometheus("us-west-1").stop()
    if not until(lambda: central.firing("SLOClusterMissing", cluster="us-west-1"), timeout):
        return
    say("recovery: us-west-1's Prometheus is back")
    topology.prometheus("us-west-1").start()
    ratio = 'slo:sli_error:ratio_rate10s{slo_spec="clusters"}'
    if not until(lambda: central.value(ratio) is not None, timeout):
        return
    say(f"recovered: the global SLI is computed again: {central.value(ratio):.1%} over 10s")
    until(lambda: False, float("inf"))


def demo_rules(out: Path) -> tuple[dict[str, str], dict[str, str]]:
    cluster, central = render_split(SPEC, out)
    central = {
        name: with_alert_for(without_group_intervals(text), "SLOClusterMissing", MISSING_FOR)
        for name, text in central.items()
    }
    return cluster, central


def run(say: Callable[[str], None], watch: Callable[[PrometheusServer], None]) -> None:
    """Start the topology, print where to look, play the scenario while `watch` reports
    the central Prometheus's alerts; stop everything when `watch` returns."""
    say(f"rendering {SPEC.name} (split mode) with idp-rulegen")
    with tempfile.TemporaryDirectory(prefix="idp-demo-rules-") as out:
        cluster_rules, global_rules = demo_rules(Path(out))
    say(
        "starting: a central Prometheus, then per cluster a Kubernetes API, idp-exporter, Prometheus"
    )
    with Topology.up(cluster_rules, global_rules) as topology:
        say(f"central Prometheus:   {topology.global_view().url}/alerts")
        for name, cluster in topology.clusters.items():
            assert cluster.exporter is not None
            say(
                f"{name + ':':13} Prometheus {topology.prometheus(name).url}/graph  "
                f"idp-exporter {cluster.exporter.url}/metrics"
            )
        say(f"SLOClusterMissing waits {MISSING_FOR} here (generated: 10m)")
        stop = threading.Event()
        incidents = threading.Thread(target=scenario, args=(topology, stop, say), daemon=True)
        incidents.start()
        try:
            watch(topology.global_view())
        finally:
            # The scenario writes to the fake APIs: it must end before they close.
            stop.set()
            incidents.join(10)
