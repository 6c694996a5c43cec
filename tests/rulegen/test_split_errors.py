"""Bad split-mode input: each a located error (FILE:LINE:COL: path: message), exit 2, and
`render` writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import HEAD, RATIO_SLO, cli, spec


def split(clusters: str = "[us-east-1, us-west-1]", more: str = "") -> str:
    return f"topology:\n  mode: split\n  clusters: {clusters}\n{more}"


SPLIT = split()

PER_CLUSTER = """\
slos:
  - name: ok
    objective: 99.9
    scope: cluster
    sli:
      ratio:
        errors: app_errors_total
        total: app_requests_total
"""

RAW_PER_CLUSTER = """\
slos:
  - name: raw
    objective: 99
    scope: cluster
    sli:
      raw:
        errors: sum by (cluster, code) (rate(app_errors_total[$window]))
        total: TOTAL
"""


def slo_clusters(clusters: str, scope: str = "") -> str:
    """RATIO_SLO measured in `clusters` only."""
    return RATIO_SLO.replace(
        "    objective: 99.9\n", f"    objective: 99.9\n{scope}    clusters: {clusters}\n"
    )


GLOBAL_ALERT = """\
alerts:
  - name: Down
    scope: global
    expr: EXPR
    severity: critical
    summary: down
"""

CASES = [
    pytest.param(
        "topology:\n  mode: split\n" + RATIO_SLO,
        2,
        9,
        "topology.mode",
        "mode: split needs topology.clusters",
        id="split-without-clusters",
    ),
    pytest.param(
        split(more="  cluster_label: slo\n") + RATIO_SLO,
        4,
        18,
        "topology.cluster_label",
        "'slo' is set by idp-rulegen",
        id="cluster-label-reserved",
    ),
    pytest.param(
        SPLIT + RATIO_SLO + "        group_by: [env, cluster]\n",
        11,
        25,
        "slos[0].sli.ratio.group_by[1]",
        "'cluster' is the cluster label",
        id="cluster-label-grouped-by",
    ),
    pytest.param(
        split("[a, a]") + RATIO_SLO,
        3,
        17,
        "topology.clusters[1]",
        "cluster 'a' is listed twice",
        id="cluster-listed-twice",
    ),
    pytest.param(
        split("[]") + RATIO_SLO,
        3,
        13,
        "topology.clusters",
        "at least 1 item",
        id="no-clusters",
    ),
    pytest.param(
        SPLIT + PER_CLUSTER.replace("app_errors_total", 'app_errors_total{cluster="us-east-1"}'),
        10,
        17,
        "slos[0].sli.ratio.errors",
        "app_errors_total has a matcher on 'cluster'",
        id="per-cluster-selector-pins-cluster",
    ),
    pytest.param(
        SPLIT
        + RAW_PER_CLUSTER.replace("TOTAL", "sum by (code) (rate(app_requests_total[$window]))"),
        11,
        16,
        "slos[0].sli.raw.total",
        "sum() aggregates 'cluster' away",
        id="per-cluster-raw-by-drops-cluster",
    ),
    pytest.param(
        RAW_PER_CLUSTER.replace(
            "TOTAL", "sum without (cluster) (rate(app_requests_total[$window]))"
        ),
        8,
        16,
        "slos[0].sli.raw.total",
        "sum() aggregates 'cluster' away",
        id="per-cluster-raw-without-cluster-single-mode",
    ),
    pytest.param(
        SPLIT + slo_clusters("[eu-central-1]"),
        7,
        16,
        "slos[0].clusters[0]",
        "cluster 'eu-central-1' is not in topology.clusters",
        id="slo-cluster-not-listed",
    ),
    pytest.param(
        SPLIT + slo_clusters("[us-west-1]", scope="    scope: cluster\n"),
        8,
        15,
        "slos[0].clusters",
        "only for scope: global",
        id="slo-clusters-with-scope-cluster",
    ),
    pytest.param(
        slo_clusters("[us-east-1]"),
        4,
        15,
        "slos[0].clusters",
        "'clusters' is a split-mode option",
        id="slo-clusters-in-single-mode",
    ),
    pytest.param(
        "topology:\n  global: {evaluator: thanos}\n" + RATIO_SLO,
        2,
        11,
        "topology.global",
        "'global' is a split-mode option",
        id="thanos-in-single-mode",
    ),
    pytest.param(
        "topology:\n  clusters: [a]\n" + RATIO_SLO,
        2,
        13,
        "topology.clusters",
        "'clusters' is a split-mode option",
        id="clusters-in-single-mode",
    ),
    pytest.param(
        RATIO_SLO + GLOBAL_ALERT.replace("EXPR", "slo:sli_error:ratio_rate5m > 0.1"),
        10,
        12,
        "alerts[0].scope",
        "scope: global needs topology.mode: split",
        id="global-alert-in-single-mode",
    ),
    pytest.param(
        SPLIT + RATIO_SLO + GLOBAL_ALERT.replace("EXPR", "up == 0"),
        14,
        11,
        "alerts[0].expr",
        "scope: global reads up",
        id="global-alert-reads-raw-series",
    ),
    pytest.param(
        split(more="  global: {evaluator: thanos, mimir_namespace: idp}\n") + RATIO_SLO,
        4,
        48,
        "topology.global.mimir_namespace",
        "only for global.evaluator: mimir",
        id="mimir-option-for-thanos",
    ),
    pytest.param(
        PER_CLUSTER + "        group_by: [cluster]\n",
        9,
        20,
        "slos[0].sli.ratio.group_by[0]",
        "scope: cluster already groups by 'cluster'",
        id="single-mode-per-cluster-grouped-by-cluster",
    ),
    pytest.param(
        SPLIT
        + RATIO_SLO
        + "alerts:\n  - {name: SLOClusterMissing, expr: up == 0, severity: x, summary: y}\n",
        12,
        12,
        "alerts[0].name",
        "is the name of a generated SLO alert",
        id="threshold-alert-named-like-cluster-missing",
    ),
]


@pytest.mark.parametrize(("body", "line", "col", "path", "message"), CASES)
def test_located_exit_2_nothing_written(
    tmp_path: Path, body: str, line: int, col: int, path: str, message: str
) -> None:
    _refused(tmp_path, spec(tmp_path, body), line, col, path, message)


def test_cluster_label_that_is_a_spec_label(tmp_path: Path) -> None:
    head = HEAD.replace("{name: t}", "{name: t, labels: {cluster: x}}")
    path = spec(tmp_path, SPLIT + RATIO_SLO, head=head)
    _refused(
        tmp_path, path, 2, 3, "topology.cluster_label", "'cluster' is also a metadata.labels key"
    )


def _refused(tmp_path: Path, spec_path: Path, line: int, col: int, path: str, message: str) -> None:
    """`render` exits 2, writes nothing, and reports `message` at line (after HEAD), col."""
    out = tmp_path / "out"
    result = cli("render", str(spec_path), "-o", str(out))
    assert result.exit_code == 2, result.output
    where = f"{spec_path}:{line + HEAD.count(chr(10))}:{col}: {path}: "
    errors = [e for e in result.stderr.splitlines() if e.startswith(where)]
    assert any(message in e for e in errors), result.stderr
    assert result.stderr.rstrip().endswith("nothing written")
    assert not out.exists()
