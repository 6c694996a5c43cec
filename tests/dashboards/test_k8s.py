"""Kubernetes, Grafana provisioning and Alertmanager outputs, checked by the real tools."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from rulegen import grafana as g
from rulegen import k8s
from tests.dashboards.helpers import promtool_check_groups, run_tool, sample_dashboard

OPTS = k8s.DeployOptions(namespace="monitoring")
GROUPS = [
    {
        "name": "slo-idp-short",
        "interval": "30s",
        "rules": [
            {
                "record": "slo:sli_error:ratio_rate5m",
                "expr": 'sum(rate(idp_deployments_total{result="failed"}[5m]))\n/\nsum(rate(idp_deployments_total[5m]))',
                "labels": {"slo": "deployment-success"},
            },
            {
                "alert": "ErrorBudgetBurn",
                "expr": "slo:sli_error:ratio_rate5m > 0.72",
                "labels": {"severity": "critical", "slo": "deployment-success"},
                "annotations": {"summary": "Budget burn."},
            },
        ],
    }
]


def test_configmap_is_valid_kubernetes_and_carries_the_dashboard() -> None:
    text = g.to_json(g.render(sample_dashboard(uid="Idp_Overview")))
    cm = k8s.dashboard_configmap("Idp_Overview", "IDP", text, OPTS)
    obj = yaml.safe_load(k8s.to_yaml(cm))
    kubernetes_validate.validate(obj, "1.30.0", strict=True)
    assert obj["metadata"]["name"] == "grafana-dashboard-idp-overview"
    assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert obj["metadata"]["annotations"] == {"grafana_folder": "IDP"}
    assert obj["data"]["Idp_Overview.json"] == text
    assert json.loads(obj["data"]["Idp_Overview.json"])["uid"] == "Idp_Overview"


def test_strict_validation_really_rejects_unknown_fields() -> None:
    cm = k8s.dashboard_configmap("x", "f", "{}", OPTS)
    cm["bogus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cm, "1.30.0", strict=True)


def test_prometheus_rule_shape_and_groups_pass_promtool(tmp_path: Path) -> None:
    pr = yaml.safe_load(k8s.to_yaml(k8s.prometheus_rule("idp", GROUPS, OPTS)))
    assert pr["apiVersion"] == "monitoring.coreos.com/v1"
    assert pr["kind"] == "PrometheusRule"
    assert pr["metadata"]["namespace"] == "monitoring"
    assert pr["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert set(pr) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(pr["spec"]) == {"groups"}
    assert pr["spec"]["groups"] == GROUPS
    promtool_check_groups(pr["spec"]["groups"], tmp_path)


def test_rule_labels_are_configurable() -> None:
    opts = k8s.DeployOptions(rule_labels={"release": "prom", "team": "platform"})
    labels = k8s.prometheus_rule("idp", GROUPS, opts)["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "idp-rulegen",
        "release": "prom",
        "team": "platform",
    }


def test_k8s_names_are_dns_1123() -> None:
    assert k8s.k8s_name("Grafana-Dashboard-SLO_detail") == "grafana-dashboard-slo-detail"
    assert k8s.k8s_name("__") == "unnamed"


def test_provider_and_datasource_examples() -> None:
    provider = k8s.dashboard_provider()
    (p,) = provider["providers"]
    assert provider["apiVersion"] == 1
    assert (p["type"], p["folder"], p["allowUiUpdates"]) == ("file", "IDP", False)
    assert p["options"] == {
        "path": "/var/lib/grafana/dashboards",
        "foldersFromFilesStructure": False,
    }
    (ds,) = k8s.datasource_example(OPTS)["datasources"]
    assert (ds["uid"], ds["type"], ds["jsonData"]["timeInterval"]) == (
        "prometheus",
        "prometheus",
        "30s",
    )


@pytest.fixture
def am_config(tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(k8s.to_yaml(k8s.alertmanager_example()))
    return path


def test_alertmanager_example_passes_amtool(am_config: Path) -> None:
    run = run_tool("amtool", "check-config", str(am_config))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 inhibit rules" in run.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "pager"), ("warning", "slack"), ("info", "slack")]
)
def test_alertmanager_routes_by_severity(am_config: Path, severity: str, receiver: str) -> None:
    run = run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={am_config}",
        "alertname=ErrorBudgetBurn",
        f"severity={severity}",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == receiver


def test_page_inhibits_the_ticket_of_the_same_slo() -> None:
    # Same SLO = same spec and name: another spec's same-named SLO keeps its ticket.
    (rule,) = k8s.alertmanager_example()["inhibit_rules"]
    assert rule == {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "slo_spec", "slo"],
    }


def test_amtool_rejects_a_broken_config(tmp_path: Path) -> None:
    # Proves the check above is not vacuous.
    bad = k8s.alertmanager_example()
    bad["route"]["receiver"] = "nobody"
    path = tmp_path / "bad.yml"
    path.write_text(k8s.to_yaml(bad))
    run = run_tool("amtool", "check-config", str(path))
    assert run.returncode != 0


def test_kustomization_builds_offline(tmp_path: Path) -> None:
    text = g.to_json(g.render(sample_dashboard()))
    files = {
        "prometheusrule.yaml": k8s.prometheus_rule("idp", GROUPS, OPTS),
        "dashboard-sample.yaml": k8s.dashboard_configmap("sample", "IDP", text, OPTS),
    }
    for name, obj in files.items():
        (tmp_path / name).write_text(k8s.to_yaml(obj))
    (tmp_path / "kustomization.yaml").write_text(
        k8s.to_yaml(k8s.kustomization(list(files), "monitoring"))
    )
    run = run_tool("kubectl", "kustomize", str(tmp_path))
    assert run.returncode == 0, run.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(run.stdout)]
    assert sorted(kinds) == ["ConfigMap", "PrometheusRule"]


def test_yaml_keeps_multiline_strings_readable_and_round_trips() -> None:
    text = k8s.to_yaml(k8s.prometheus_rule("idp", GROUPS, OPTS))
    assert "expr: |-\n" in text
    assert yaml.safe_load(text)["spec"]["groups"] == GROUPS
    assert k8s.to_yaml_documents([{"a": 1}, {"b": 2}]) == "---\na: 1\n---\nb: 2\n"
