"""The SLO dashboards' cluster queries on a real Prometheus holding three clusters' data.

The data (tests/dashboards/clusters.py) is backfilled with promtool; every query is expanded
as Grafana would expand it for a choice of the `cluster` variable (All = its allValue, one
cluster, or a multi choice, which Grafana writes as a regex group) and evaluated by the
server, and the values are compared with the ones worked out by hand from the data.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.servers import PrometheusServer, require_binary, started
from rulegen import grafana as g
from rulegen import slo_dashboards as sd
from tests.dashboards import clusters as c

ALL = ".+"  # the variable's allValue
# The last sample two minutes ago: inside retention, and no scrape ever adds to it.
END = int(time.time()) // 60 * 60 - 120


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    root = tmp_path_factory.mktemp("clusters")
    source = root / "clusters.om"
    source.write_text(c.openmetrics(END))
    blocks = root / "blocks"
    subprocess.run(
        [
            *(require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q"),
            *(str(source), str(blocks)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = PrometheusServer("global: {scrape_interval: 1m}\n")
    shutil.copytree(blocks, server.dir / "data")
    started(server)
    try:
        yield server
    finally:
        server.destroy()


def _expand(expr: str, slo: str, cluster: str) -> str:
    values = {
        "__range": c.RANGE,
        "__from": str((END - 59 * 60) * 1000),
        "slo_spec": "platform",
        "slo": slo,
        "cluster": cluster,
    }
    return re.sub(r"\$(\w+)", lambda m: values[m.group(1)], expr)


def _query(server: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{server.url}/api/v1/query", params={"query": expr, "time": END}, timeout=10)
    body = resp.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]  # type: ignore[no-any-return]


def _values(
    server: PrometheusServer, expr: str, *, slo: str = "a", cluster: str = ALL, key: str = "cluster"
) -> dict[str, float]:
    """{the `key` label's values (comma-joined): value} of the expanded expression."""
    out = {}
    for r in _query(server, _expand(expr, slo, cluster)):
        name = ",".join(r["metric"].get(k, "") for k in key.split(","))
        out[name] = round(float(r["value"][1]), 9)
    return out


def _targets(d: g.Dashboard, title: str, index: int = 0) -> list[str]:
    panels = [p for p in g.render(d)["panels"] if p["title"] == title and p["type"] != "row"]
    return [t["expr"] for t in panels[index]["targets"]]


DETAIL = sd.detail(c.SLOS)
OVERVIEW = sd.overview(c.SLOS)


def test_the_cluster_variable_lists_the_clusters_the_recordings_come_from(
    prometheus: PrometheusServer,
) -> None:
    def listed(d: g.Dashboard, slo: str) -> list[str]:
        var = next(v for v in g.render(d)["templating"]["list"] if v["name"] == "cluster")
        m = re.fullmatch(r"label_values\((?P<sel>.+), cluster\)", var["query"]["query"])
        assert m, var["query"]["query"]
        resp = httpx.get(
            f"{prometheus.url}/api/v1/label/cluster/values",
            params={"match[]": _expand(m["sel"], slo, ALL)},
            timeout=10,
        )
        return resp.json()["data"]  # type: ignore[no-any-return]

    assert listed(OVERVIEW, "a") == ["eu-central-1", "us-east-1", "us-west-1"]
    # On the detail dashboard: the clusters of the chosen SLO only.
    assert listed(DETAIL, "b") == ["us-east-1", "us-west-1"]


def test_error_ratio_per_cluster_is_traffic_weighted_and_follows_the_choice(
    prometheus: PrometheusServer,
) -> None:
    (ratio,) = _targets(DETAIL, "Error ratio per cluster")
    # us-west-1: 300 errors of 3000 events over the hour, not the mean of its ratios (0.5).
    assert _values(prometheus, ratio) == {"us-east-1": 0.01, "us-west-1": 0.1, "eu-central-1": 0}
    assert _values(prometheus, ratio, cluster="us-west-1") == {"us-west-1": 0.1}
    multi = "(us-east-1|eu-central-1)"  # Grafana's text for a multi choice
    assert _values(prometheus, ratio, cluster=multi) == {"us-east-1": 0.01, "eu-central-1": 0}
    # b has another base window (10m): its own recordings are read.
    assert _values(prometheus, ratio, slo="b") == {"us-east-1": 0.1, "us-west-1": 0}


def test_burn_rate_and_events_per_cluster_show_which_cluster_burns(
    prometheus: PrometheusServer,
) -> None:
    (burn,) = _targets(DETAIL, "Burn rate per cluster")
    # Now (the last sample): us-west-1 fails every event, 1 / 0.05 budget = 20x.
    assert _values(prometheus, burn) == {"us-east-1": 0.2, "us-west-1": 20, "eu-central-1": 0}
    total, errors = _targets(DETAIL, "Events per cluster")
    assert _values(prometheus, total) == {"us-east-1": 100, "us-west-1": 10, "eu-central-1": 50}
    assert _values(prometheus, errors, cluster="us-west-1") == {"us-west-1": 10}
    # The global events panel sums the chosen clusters.
    total_all = _targets(DETAIL, "Event and error rates")[0]
    assert _values(prometheus, total_all, key="slo") == {"a": 160}
    assert _values(prometheus, total_all, cluster="us-west-1", key="slo") == {"a": 10}


def test_global_figures_ignore_the_choice_and_per_cluster_slo_series_follow_it(
    prometheus: PrometheusServer,
) -> None:
    (sli,) = _targets(DETAIL, "SLI over the period")
    # a is global: its SLI has no cluster label and shows whatever clusters are chosen.
    assert _values(prometheus, sli, cluster="us-west-1") == {"": 0.96}
    # b is per cluster: one SLI per cluster, filtered by the choice.
    assert _values(prometheus, sli, slo="b") == {"us-east-1": 0.9, "us-west-1": 1}
    assert _values(prometheus, sli, slo="b", cluster="us-west-1") == {"us-west-1": 1}
    (firing,) = _targets(DETAIL, "Firing alerts")
    assert _values(prometheus, firing, slo="b") == {"": 1}
    assert _values(prometheus, firing, slo="b", cluster="us-west-1") == {"": 0}
    (out_of_budget,) = _targets(OVERVIEW, "SLOs out of budget")
    assert _values(prometheus, out_of_budget) == {"": 1}  # b in us-east-1
    assert _values(prometheus, out_of_budget, cluster="us-west-1") == {"": 0}


def test_overview_table_has_one_row_per_slo_and_cluster(prometheus: PrometheusServer) -> None:
    ratio, burn, events = _targets(OVERVIEW, "SLOs per cluster")
    key = "slo,cluster"
    assert _values(prometheus, ratio, key=key) == {
        "a,us-east-1": 0.01,
        "a,us-west-1": 0.1,
        "a,eu-central-1": 0,
        "b,us-east-1": 0.1,
        "b,us-west-1": 0,
    }
    assert _values(prometheus, burn, key=key, cluster="us-west-1") == {
        "a,us-west-1": 2,
        "b,us-west-1": 0,
    }
    assert _values(prometheus, events, key=key) == {
        "a,us-east-1": 100,
        "a,us-west-1": 50,
        "a,eu-central-1": 50,
        "b,us-east-1": 20,
        "b,us-west-1": 40,
    }


def test_every_query_of_both_dashboards_returns_data(prometheus: PrometheusServer) -> None:
    for d in (OVERVIEW, DETAIL):
        for panel in g.render(d)["panels"]:
            for t in panel.get("targets", []):
                found = [_query(prometheus, _expand(t["expr"], slo, ALL)) for slo in ("a", "b")]
                assert any(found), f"{d.uid} {panel['title']!r}: no data for {t['expr']}"
