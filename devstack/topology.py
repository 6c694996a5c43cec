"""Split mode on one machine: several clusters and a central Prometheus, all real processes.

Each `ClusterStack` is one cluster as the platform runs it: its own Kubernetes API (the
wire-level fake), an idp-exporter watching it, and a Prometheus that scrapes the exporter,
sets `external_labels: {cluster: <name>}`, loads the cluster rules file and remote-writes
only the base recordings to the central Prometheus. That one runs with the remote-write
receiver and loads the global rules file (or, with `federate`, pulls the same series
through each cluster's /federate). `Topology` starts the central Prometheus
last, once every cluster writes to it (a cluster still starting is not a missing one),
and is up when every cluster's base recordings have arrived; `close()` stops them all,
including after a failed start.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml

from devstack.kube_api import FakeKubeAPI
from devstack.promconfig import BASE_RECORDINGS, federation, prometheus_config, remote_write
from devstack.servers import READY_TIMEOUT, PrometheusServer, started, wait_until
from devstack.stack import Exporter, Launcher, StackError, argo_source, complete_workflow

CLUSTERS = ("us-east-1", "us-west-1", "eu-central-1")
INTERVAL = "1s"
# The central Prometheus treats a series as gone 10s after its last sample (default 5m):
# at 1s intervals that is the same ten missed evaluations, so a stopped cluster's base
# recordings vanish, and absent() and the cluster gate see it, within a test's patience.
LOOKBACK = "10s"
SPEC = Path(__file__).with_name("three-clusters-slo.yaml")


def render_split(spec: Path, out: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Render a split-mode `spec` with the idp-rulegen CLI, as a user would: the cluster
    rules files and the global ones, by file name."""
    rulegen = Path(sys.executable).parent / "idp-rulegen"
    cmd = [str(rulegen), "render", str(spec), "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(f"idp-rulegen render {spec} failed ({done.returncode}):\n{done.stderr}")
    alerts = out / "alerts"
    cluster = {p.name: p.read_text() for p in sorted(alerts.glob("*.cluster.rules.yml"))}
    central = {p.name: p.read_text() for p in sorted(alerts.glob("*.global.rules.yml"))}
    return cluster, central


def with_alert_for(rule_file: str, alertname: str, duration: str) -> str:
    """`rule_file` with every alert `alertname` holding `for: duration`: the generated 10m
    of SLOClusterMissing is longer than a test or a demo should wait."""
    doc = yaml.safe_load(rule_file)
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alertname:
                rule["for"] = duration
    return yaml.safe_dump(doc, sort_keys=False)


class ClusterStack:
    """One cluster: its fake Kubernetes API, its idp-exporter and its Prometheus."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.dir = directory
        self.kube = FakeKubeAPI(bookmark_interval=1.0)
        self.exporter: Exporter | None = None
        self.prometheus: PrometheusServer | None = None
        self.created = 0

    def start(self, launcher: Launcher, rule_files: dict[str, str], write_url: str | None) -> None:
        """Start the cluster; its Prometheus remote-writes to `write_url` if given (else
        the central Prometheus federates from it)."""
        launcher.step(f"{self.name}'s Kubernetes API", self.kube.start, FakeKubeAPI.stop)
        kubeconfig = self.kube.kubeconfig(self.dir / f"{self.name}.kubeconfig")
        sources = [argo_source(self.name, kubeconfig)]
        self.exporter = launcher.step(
            f"{self.name}'s idp-exporter", lambda: started(Exporter(sources)), Exporter.destroy
        )
        config = prometheus_config(
            interval=INTERVAL,
            rule_files=list(rule_files),
            targets=[self.exporter.port],
            external_labels={"cluster": self.name},
            remote_writes=[remote_write(write_url)] if write_url else [],
        )
        self.prometheus = launcher.step(
            f"{self.name}'s Prometheus",
            lambda: started(PrometheusServer(config, rule_files)),
            PrometheusServer.destroy,
        )

    def deploy(self, phase: str) -> str:
        """A deployment workflow in `phase` that finishes now."""
        self.created += 1
        return complete_workflow(self.kube, f"deploy-{self.name}-{self.created}", phase)


class Topology:
    """Start with `Topology.up(cluster_rules, global_rules)`; always `close()`. With
    `federate`, the central Prometheus pulls the base recordings through /federate
    instead of receiving them by remote_write."""

    def __init__(
        self,
        cluster_rules: dict[str, str],
        global_rules: dict[str, str],
        clusters: Sequence[str] = CLUSTERS,
        *,
        federate: bool = False,
    ) -> None:
        self.federate = federate
        self.dir = Path(tempfile.mkdtemp(prefix="idp-clusters-"))
        self.cluster_rules = cluster_rules
        self.global_rules = global_rules
        self.clusters = {name: ClusterStack(name, self.dir) for name in clusters}
        self.central: PrometheusServer | None = None
        self._launcher = Launcher()
        self._launcher.callback(lambda: shutil.rmtree(self.dir, ignore_errors=True))

    @classmethod
    @contextlib.contextmanager
    def up(
        cls,
        cluster_rules: dict[str, str],
        global_rules: dict[str, str],
        clusters: Sequence[str] = CLUSTERS,
        *,
        federate: bool = False,
    ) -> Iterator[Topology]:
        topology = cls(cluster_rules, global_rules, clusters, federate=federate)
        try:
            topology.start()
            yield topology
        finally:
            topology.close()

    def start(self) -> None:
        flags = ["--web.enable-remote-write-receiver", f"--query.lookback-delta={LOOKBACK}"]
        central = self._launcher.step(
            "the central Prometheus's directory",
            lambda: PrometheusServer("", self.global_rules, flags),
            PrometheusServer.destroy,
        )
        self.central = central
        write_url = None if self.federate else f"{central.url}/api/v1/write"
        for cluster in self.clusters.values():
            cluster.start(self._launcher, self.cluster_rules, write_url)
        ports = [self.prometheus(name).port for name in self.clusters]
        central.configure(
            prometheus_config(
                interval=INTERVAL,
                rule_files=list(self.global_rules),
                scrape_configs=[federation(ports)] if self.federate else [],
            )
        )
        # Last, when every cluster is already writing (remote_write retries until it
        # answers) or can be federated: a cluster still starting is not a missing one.
        self._launcher.step("the central Prometheus", central.start, lambda _: None)
        self._launcher.step(
            "every cluster's base recordings in the central Prometheus",
            lambda: wait_until(
                lambda: self.reporting() == set(self.clusters), READY_TIMEOUT, "every cluster"
            ),
            lambda _: None,
        )

    def reporting(self) -> set[str]:
        """The clusters whose base recordings the central Prometheus holds now."""
        result = self.global_view().query(f'group by (cluster) ({{__name__=~"{BASE_RECORDINGS}"}})')
        return {str(r["metric"]["cluster"]) for r in result}  # type: ignore[index]

    def close(self) -> None:
        """Stop everything that was started, newest first; never raises."""
        self._launcher.close()

    def prometheus(self, cluster: str) -> PrometheusServer:
        prometheus = self.clusters[cluster].prometheus
        assert prometheus is not None
        return prometheus

    def global_view(self) -> PrometheusServer:
        assert self.central is not None
        return self.central
