"""The repo's rendered bundle: the guide's four dashboards, the SLO dashboards, and the
Kubernetes/Grafana/Alertmanager files, checked by the real tools; bad specs exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from rulegen import lint, model
from rulegen.cli import main
from tests.dashboards.helpers import (
    SLO_DETAIL_PANELS_BY_CLUSTER,
    SLO_OVERVIEW_PANELS_BY_CLUSTER,
    promtool_check_groups,
    run_tool,
)

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "slo.yaml"

# Every panel the issue (and the guide's "Key Dashboards") names, per dashboard uid.
EXPECTED_PANELS: dict[str, list[str]] = {
    "idp-overview": [
        "Deployments (24h)",
        "Deployment success rate (24h)",
        "Active users (audited actions, 15m)",
        "API request rate",
        "API error rate",
        "API P95 latency",
    ],
    "backstage-health": [
        "Pod status",
        "Pod restarts",
        "Memory usage",
        "CPU usage",
        "Database connections",
        "Cache hit rate",
        "Request rate by endpoint",
    ],
    "argo-workflows": [
        "Active workflows",
        "Queued workflows",
        "Workflows by phase",
        "Success/failure rate",
        "Workflow duration (P50, P95, P99)",
        "Workflow CPU usage",
        "Workflow memory usage",
    ],
    "clusters": [
        "Node status",
        "Pod count",
        "Deployment status",
        "CPU utilization",
        "Memory utilization",
        "Disk utilization",
        "Network I/O",
    ],
    # The repo's spec is split: the SLO dashboards show per-cluster figures too.
    "slo-overview": SLO_OVERVIEW_PANELS_BY_CLUSTER,
    "slo-detail": SLO_DETAIL_PANELS_BY_CLUSTER,
}


def _dashboard(uid: str) -> dict[str, Any]:
    return json.loads((REPO / "dashboards" / f"{uid}.json").read_text())  # type: ignore[no-any-return]


def _panels(d: dict[str, Any]) -> list[str]:
    return [p["title"] for p in d["panels"] if p["type"] != "row"]


def _groups(layer: str) -> list[dict[str, Any]]:
    """The groups of the repo's `layer` rules file (the spec is split: cluster, global)."""
    path = REPO / "alerts" / f"idp.{layer}.rules.yml"
    return yaml.safe_load(path.read_text())["groups"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("uid", sorted(EXPECTED_PANELS))
def test_dashboard_exists_with_its_panels(uid: str) -> None:
    d = _dashboard(uid)
    assert d["uid"] == uid
    assert _panels(d) == EXPECTED_PANELS[uid]


def test_guide_dashboards_have_the_guides_titles_and_cluster_variable() -> None:
    titles = {
        uid: _dashboard(uid)["title"]
        for uid in ("idp-overview", "backstage-health", "argo-workflows", "clusters")
    }
    assert titles == {
        "idp-overview": "Platform Overview",
        "backstage-health": "Backstage Health",
        "argo-workflows": "Argo Workflows",
        "clusters": "Cluster Health",
    }
    for uid in ("idp-overview", "argo-workflows", "clusters"):
        names = [v["name"] for v in _dashboard(uid)["templating"]["list"]]
        assert names == ["datasource", "cluster"]


def test_every_dashboard_of_the_bundle_lints_clean() -> None:
    m = model.load(str(SPEC))
    assert m.external_metrics is not None, "the repo's spec checks every metric"
    dashboards = [json.loads(p.read_text()) for p in sorted((REPO / "dashboards").glob("*.json"))]
    assert len(dashboards) == 6
    groups = _groups("cluster") + _groups("global")
    assert lint.lint_bundle(dashboards, groups, m.external_metrics) == []


def test_configmaps_are_valid_kubernetes_objects() -> None:
    paths = sorted((REPO / "deploy" / "generated").glob("grafana-dashboard-*.yaml"))
    assert len(paths) == 6
    for path in paths:
        obj = yaml.safe_load(path.read_text())
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
        assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"
        (key,) = obj["data"]
        assert json.loads(obj["data"][key])["uid"] == key.removesuffix(".json")
        assert obj["metadata"]["annotations"]["grafana_folder"] in {"IDP", "SLOs"}


@pytest.mark.parametrize(
    ("layer", "path"),
    [("cluster", "prometheusrule-cluster.yaml"), ("global", "global/prometheusrule.yaml")],
)
def test_prometheus_rule_holds_the_rules_file_and_passes_promtool(
    tmp_path: Path, layer: str, path: str
) -> None:
    pr = yaml.safe_load((REPO / "deploy" / "generated" / path).read_text())
    assert (pr["apiVersion"], pr["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    labels = pr["metadata"]["labels"]
    assert labels["idp-slo/layer"] == layer
    # Only the cluster object is picked up by each cluster's kube-prometheus-stack.
    assert (labels.get("release") == "kube-prometheus-stack") == (layer == "cluster")
    assert pr["spec"]["groups"] == _groups(layer)
    promtool_check_groups(pr["spec"]["groups"], tmp_path)


def test_alertmanager_example_passes_amtool() -> None:
    path = REPO / "deploy" / "generated" / "alertmanager" / "alertmanager.yml"
    run = run_tool("amtool", "check-config", str(path))
    assert run.returncode == 0, run.stdout + run.stderr


def test_kustomization_builds_every_generated_object() -> None:
    run = run_tool("kubectl", "kustomize", str(REPO / "deploy" / "generated"))
    assert run.returncode == 0, run.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(run.stdout))
    assert kinds == ["ConfigMap"] * 6 + ["PrometheusRule"]


def test_provisioning_files() -> None:
    provider = yaml.safe_load((REPO / "dashboards" / "provisioning" / "dashboards.yml").read_text())
    assert provider["providers"][0]["type"] == "file"
    ds = yaml.safe_load((REPO / "dashboards" / "provisioning" / "datasources.yml").read_text())
    assert ds["datasources"][0]["uid"] == "prometheus"


# ----------------------------------------------------------------------------- bad input

GOOD_PANEL = """\
          - title: Queued
            type: stat
            unit: short
            description: Pending workflows.
            queries:
              - expr: sum(idp_workflows{phase="Pending",cluster=~"$cluster"})
"""
HEAD = """\
apiVersion: idp-slo/v1
kind: SLOSpec
metadata: {name: t}
external_metrics: {backstage: [http_requests_total]}
dashboards:
  - uid: argo
    title: Argo
    variables: [cluster]
    rows:
      - title: Queue
        panels:
"""


def _render(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["render", str(path)], catch_exceptions=False)
    return result.exit_code, result.stderr


def test_good_spec_renders(tmp_path: Path) -> None:
    code, err = _render(tmp_path, HEAD + GOOD_PANEL)
    assert code == 0, err
    assert (tmp_path / "dashboards" / "argo.json").exists()


@pytest.mark.parametrize(
    ("old", "new", "located"),
    [
        (
            "idp_workflows{",
            "idp_workflow{",
            "17:23: dashboards[0].rows[0].panels[0].queries[0].expr:",
        ),
        (
            "idp_workflows{",
            "http_request_total{",
            "17:23: dashboards[0].rows[0].panels[0].queries[0].expr:",
        ),
        (
            ',cluster=~"$cluster"',
            "",
            "17:23: dashboards[0].rows[0].panels[0].queries[0].expr: dashboard argo, "
            'panel "Queued", target 0: target-variable-filter-rule:',
        ),
        (
            'cluster=~"$cluster"',
            'cluster="$cluster"',
            "17:23: dashboards[0].rows[0].panels[0].queries[0].expr: dashboard argo, "
            'panel "Queued", target 0: target-variable-regex-rule:',
        ),
        ("unit: short", "unit: things", "14:19: dashboards[0].rows[0].panels[0].unit:"),
        ("            description: Pending workflows.\n", "", "dashboards[0].rows[0].panels[0]:"),
        ("uid: argo", "uid: slo-overview", "dashboards[0].uid:"),
        ("uid: argo", "uid: SLO_Overview", "dashboards[0].uid: uid 'SLO_Overview' and the"),
    ],
    ids=[
        "unknown-idp-metric",
        "undeclared-external",
        "panel-ignores-the-cluster-variable",
        "cluster-variable-matched-with-=",
        "bad-unit",
        "no-description",
        "uid-of-a-generated-dashboard",
        "uid-mapping-to-a-generated-configmap",
    ],
)
def test_lint_errors_are_located_exit_2_and_write_nothing(
    tmp_path: Path, old: str, new: str, located: str
) -> None:
    slo = "slos:\n  - {name: q, objective: 99, sli: {probe: {metric: idp_probe_success}}}\n"
    text = (HEAD + GOOD_PANEL).replace(old, new) + slo
    code, err = _render(tmp_path, text)
    assert code == 2
    assert located in err, err
    assert "nothing written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


@pytest.mark.parametrize("other", ["argo_x", "Argo-X", "ARGO_X"])
def test_uids_that_map_to_one_configmap_name_both_named(tmp_path: Path, other: str) -> None:
    """`argo-x` and `argo_x` (or `Argo-X`) would both be grafana-dashboard-argo-x: one
    dashboard dropped and `kubectl kustomize` failing, so the rules would not deploy."""
    second = f"  - uid: {other}\n    title: Other\n"
    text = (HEAD + GOOD_PANEL).replace("uid: argo", "uid: argo-x") + second
    code, err = _render(tmp_path, text)
    assert code == 2, err
    line = text.splitlines().index(f"  - uid: {other}") + 1
    assert f"spec.yaml:{line}:10: dashboards[1].uid: uid {other!r} and dashboards[0] " in err, err
    assert "(uid 'argo-x') both become the ConfigMap 'grafana-dashboard-argo-x'" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_rule_labels_and_schema_version_are_configurable(tmp_path: Path) -> None:
    text = (
        HEAD
        + GOOD_PANEL
        + "outputs: {namespace: obs, rule_labels: {release: prom}, schema_version: 41}\n"
    )
    code, err = _render(tmp_path, text)
    assert code == 0, err
    pr = yaml.safe_load((tmp_path / "deploy" / "generated" / "prometheusrule.yaml").read_text())
    assert (pr["metadata"]["namespace"], pr["metadata"]["labels"]["release"]) == ("obs", "prom")
    assert json.loads((tmp_path / "dashboards" / "argo.json").read_text())["schemaVersion"] == 41
