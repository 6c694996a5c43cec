"""Two idp-exporter replicas over one cluster, one killed and restarted mid-stream: a real
Prometheus scrapes both, and the deduplicated SLI counts every completion exactly once.

Completed workflows are deleted once counted, as Argo's TTL controller does, so the
restarted replica cannot see the completions it missed: only the other replica has them.
"""

from __future__ import annotations

import contextlib
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import workflow
from devstack.servers import PrometheusServer, started, wait_until
from devstack.stack import Exporter, without_group_intervals
from rulegen import model

from .test_e2e import render_rules

SPEC = """\
apiVersion: idp-slo/v1
kind: SLOSpec
metadata: {name: ha}
defaults: {window: 1d, scrape_interval: 1s}
slos:
  - name: ha-deployment-success
    objective: 95
    sli:
      ratio:
        errors: idp_deployments_total{cluster="ha",result="failed"}
        total: idp_deployments_total{cluster="ha"}
"""
METRIC = 'idp_deployments_total{cluster="ha"}'
SURVIVOR = 'idp_deployments_total{cluster="ha",pod="exporter-a"}'  # the replica never killed


def _argo_source(kube: FakeKubeAPI, directory: Path) -> dict[str, object]:
    return {
        "name": "ha",
        "type": "argo",
        "cluster": "ha",
        "kubeconfig": str(kube.kubeconfig(directory / "kubeconfig")),
        "context": "fake",
        "namespaces": ["argo"],
        "deployments": {"templates": ["deployment-standard"]},
        "interval": "5m",
        "timeout": "5s",
    }


def _counted(exporter: Exporter) -> float:
    """The replica's own idp_deployments_total, read from its /metrics."""
    text = httpx.get(f"{exporter.url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("idp_deployments_total{")
    )


class Cluster:
    def __init__(self, kube: FakeKubeAPI) -> None:
        self.kube = kube
        self.created = 0

    def complete(self, count: int) -> list[str]:
        """`count` succeeded deployments finishing now."""
        names = []
        for _ in range(count):
            name = f"deploy-{self.created}"
            now = time.time()
            self.kube.create(WORKFLOWS, workflow(name, started=now - 60, finished=now, steps=2))
            self.created += 1
            names.append(name)
        return names

    def expire(self, names: list[str]) -> None:
        for name in names:
            self.kube.delete(WORKFLOWS, "argo", name)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[FakeKubeAPI, Exporter, Exporter, PrometheusServer]]:
    (tmp_path / "ha.yaml").write_text(SPEC)
    rules = without_group_intervals(render_rules(tmp_path / "ha.yaml", tmp_path / "out"))
    with contextlib.ExitStack() as stack:
        kube = FakeKubeAPI(bookmark_interval=1.0).start()
        stack.callback(kube.stop)
        a = started(Exporter([_argo_source(kube, tmp_path)]))
        stack.callback(a.destroy)
        b = started(Exporter([_argo_source(kube, tmp_path)]))
        stack.callback(b.destroy)
        config = textwrap.dedent(f"""\
            global: {{scrape_interval: 1s, evaluation_interval: 1s}}
            rule_files: [ha.rules.yml]
            scrape_configs:
              - job_name: idp-exporter
                static_configs:
                  - {{targets: ["127.0.0.1:{a.port}"], labels: {{pod: exporter-a}}}}
                  - {{targets: ["127.0.0.1:{b.port}"], labels: {{pod: exporter-b}}}}
            """)
        prom = started(PrometheusServer(config, {"ha.rules.yml": rules}))
        stack.callback(prom.destroy)
        yield kube, a, b, prom


def _value(prom: PrometheusServer, expr: str, at: float | None = None) -> float:
    """The single sample of `expr`, at `at` (every query of a comparison reads one instant)."""
    params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
    body = httpx.get(f"{prom.url}/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", (expr, body)
    result = body["data"]["result"]
    assert len(result) == 1, (expr, result)
    return float(result[0]["value"][1])


def _scraped(prom: PrometheusServer, expected: dict[str, float]) -> bool:
    """Prometheus's latest sample of each replica's counter is `expected[pod]`."""
    got = {
        str(r["metric"]["pod"]): float(r["value"][1])
        for r in prom.query(f"sum by (pod) ({METRIC})")
    }  # type: ignore[index]
    return got == expected


def _scraped_since(prom: PrometheusServer, t: float) -> bool:
    stamps = prom.query(f"min by (pod) (timestamp({METRIC}))")
    return len(stamps) == 2 and all(float(r["value"][1]) >= t for r in stamps)  # type: ignore[index]


def test_killed_replica_loses_nothing_and_doubles_nothing(
    rig: tuple[FakeKubeAPI, Exporter, Exporter, PrometheusServer], tmp_path: Path
) -> None:
    kube, a, b, prom = rig
    cluster = Cluster(kube)
    # The exporter exposes its counters at 0 from the start, so rate() sees every step.
    # The run's first instant must read those zeros: completions wait for a scrape of both
    # replicas a second into the run.
    wait_until(lambda: _scraped_since(prom, 0), 30, "the first scrape of both replicas")
    start = time.time()
    wait_until(lambda: _scraped_since(prom, start + 1), 30, "a scrape after the start")

    both = cluster.complete(8)  # both replicas count these
    wait_until(lambda: _counted(a) == 8 and _counted(b) == 8, 30, "both replicas count")
    cluster.expire(both)
    wait_until(lambda: _scraped(prom, {"exporter-a": 8, "exporter-b": 8}), 30, "scraped")

    b.stop()  # killed mid-stream: it misses these, and they are gone when it returns
    missed = cluster.complete(6)
    wait_until(lambda: _counted(a) == 14, 30, "replica a counts while b is down")
    cluster.expire(missed)
    b.start()  # a new process: its counter starts again from 0

    after = cluster.complete(6)
    wait_until(lambda: _counted(a) == 20 and _counted(b) == 6, 30, "both count again")
    cluster.expire(after)
    wait_until(lambda: _scraped(prom, {"exporter-a": 20, "exporter-b": 6}), 30, "scraped")
    at = time.time()
    window = int(at - start)  # from after the warm-up was scraped: both series exist

    sli = model.load(str(tmp_path / "ha.yaml")).slos[0].sli
    # Exact: each replica's counter now less at the start (integers, no extrapolation),
    # merged as the rules merge replicas. b's reset makes its difference smaller, never
    # larger, so the maximum is a's: every completion, once.
    exact = _value(
        prom, f"sum(max without (instance, pod) ({METRIC} - {METRIC} offset {window}s))", at
    )
    # The SLI's own construction (what slo:sli_total_events records over 5m) over the
    # run, times its length. rate() extrapolates to the range's edges, so it is not an
    # integer, but it must be exactly the surviving replica's increase: b adds nothing.
    deduplicated = _value(prom, f"{sli.total_events(window)} * {window}", at)
    survivor = _value(prom, f"sum(increase({SURVIVOR}[{window}s]))", at)
    summed = _value(prom, f"sum(increase({METRIC}[{window}s]))", at)
    n = cluster.created
    print(
        f"created {n}; counted {exact:g} exactly, {deduplicated:.2f} by the SLI's rate "
        f"(replica a alone: {survivor:.2f}); summed over both replicas {summed:.2f}"
    )
    assert exact == n
    assert deduplicated == pytest.approx(survivor, rel=1e-9)
    # Without deduplication: a's 20 plus b's 8 + 6 again, about 2N less b's misses.
    assert summed == pytest.approx(survivor * 34 / 20, rel=0.1)
    assert _value(prom, 'slo:sli_total_events:rate5m{slo="ha-deployment-success"}') > 0
