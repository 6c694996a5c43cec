"""Split mode render: what runs in every cluster, what runs globally, and that the global
rules compute the right figures from the clusters' base recordings (real promtool)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser as pp
import pytest
import yaml

from rulegen import bundle, explain, lint, model, rules_split
from rulegen import promtool as promtool_run

from .helpers import cli, run_promtool

HEAD = "apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {name: s, labels: {team: core}}\n"
CLUSTERS = ("us-east-1", "us-west-1", "eu-central-1")
SLOS = """\
slos:
  - name: dep
    service: argo
    objective: 99.9
    sli:
      ratio:
        errors: idp_deployments_total{result="failed"}
        total: idp_deployments_total
  - name: dep-cluster
    service: argo
    objective: 99
    scope: cluster
    sli:
      ratio:
        errors: idp_deployments_total{result="failed"}
        total: idp_deployments_total
alerts:
  - {name: QueueLong, expr: 'sum(idp_workflows{phase="Pending"}) > 20', severity: warning, summary: q}
  - name: BudgetLow
    scope: global
    expr: slo:error_budget_remaining:ratio{slo_spec="s"} < 0.25
    severity: warning
    summary: low
"""


def topology(evaluator: str = "prometheus") -> str:
    return (
        f"topology:\n  mode: split\n  clusters: [{', '.join(CLUSTERS)}]\n"
        f"  global: {{evaluator: {evaluator}}}\n"
    )


def render(tmp_path: Path, body: str) -> dict[str, str]:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + body)
    return bundle.render(model.load(str(path)))


def load(text: str) -> Any:
    return yaml.safe_load(text)


def rules_of(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"]]


@pytest.mark.parametrize("evaluator", ["prometheus", "thanos", "mimir"])
def test_both_files_pass_promtool_check_for_every_evaluator(
    tmp_path: Path, promtool: str, evaluator: str
) -> None:
    files = render(tmp_path, topology(evaluator) + SLOS)
    layer = {
        "prometheus": "deploy/generated/global/prometheusrule.yaml",
        "thanos": "deploy/generated/global/prometheusrule.yaml",
        "mimir": "deploy/generated/global/mimir-s.yaml",
    }[evaluator]
    deployed = load(files[layer])
    groups = deployed["spec"]["groups"] if "spec" in deployed else deployed["groups"]
    if evaluator == "thanos":
        assert {g.pop("partial_response_strategy") for g in groups} == {"abort"}
    if evaluator == "mimir":
        assert deployed["namespace"] == "s"  # default: metadata.name
    # What the evaluator loads holds the global rules file's groups, as promtool reads them.
    assert groups == load(files["alerts/s.global.rules.yml"])["groups"]
    paths = []
    for name in ("s.cluster.rules.yml", "s.global.rules.yml"):
        paths.append(tmp_path / name)
        paths[-1].write_text(files[f"alerts/{name}"])
    checked = run_promtool(promtool, "check", "rules", "--lint=duplicate-rules", *map(str, paths))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_cluster_file_holds_the_single_mode_base_absent_and_local_alerts(tmp_path: Path) -> None:
    split = render(tmp_path, topology() + SLOS)
    single = render(tmp_path, re.sub(r"    scope: \w+\n", "", SLOS))
    groups = load(split["alerts/s.cluster.rules.yml"])["groups"]
    assert [g["name"] for g in groups] == ["slo:dep:base", "slo:dep-cluster:base", "alerts:s"]
    single_rules = rules_of(load(single["alerts/s.rules.yml"])["groups"])
    base = [r for r in single_rules if r.get("record", "").endswith("_events:rate5m")]
    absent = [r for r in single_rules if r.get("alert") == "SLOMetricAbsent"]
    assert [r for r in rules_of(groups[:2]) if "record" in r] == base  # names, exprs unchanged
    assert [r for r in rules_of(groups[:2]) if "alert" in r] == absent
    assert [r["alert"] for r in rules_of(groups[2:])] == ["QueueLong"]
    # The external label adds the cluster on the way out; the recordings must not hold it.
    assert all("cluster" not in r["labels"] for r in rules_of(groups))


def test_global_file_reads_only_what_the_bundle_records(tmp_path: Path) -> None:
    files = render(tmp_path, topology() + SLOS)
    cluster = rules_of(load(files["alerts/s.cluster.rules.yml"])["groups"])
    global_ = rules_of(load(files["alerts/s.global.rules.yml"])["groups"])
    shipped = {r["record"] for r in cluster if "record" in r}
    assert shipped == {"slo:sli_error_events:rate5m", "slo:sli_total_events:rate5m"}
    recorded = shipped | {r["record"] for r in global_ if "record" in r}
    read = {sel.name for r in global_ for sel in lint.selectors(pp.parse(r["expr"]))}
    assert read <= recorded
    assert [r["alert"] for r in global_ if r.get("alert") in ("QueueLong", "BudgetLow")] == [
        "BudgetLow"
    ]
    # What crosses the wire is exactly what the global file reads of the clusters.
    example = load(files["deploy/generated/global/remote-write.yaml"])
    keep = example["remote_write"][0]["write_relabel_configs"][0]
    assert keep["action"] == "keep" and keep["source_labels"] == ["__name__"]
    assert {n for n in recorded if re.fullmatch(keep["regex"], n)} == shipped
    assert example["global"]["external_labels"] == {"cluster": "us-east-1"}


def test_global_objects_are_not_selected_by_the_clusters(tmp_path: Path) -> None:
    files = render(tmp_path, topology("thanos") + SLOS)
    local = load(files["deploy/generated/prometheusrule-cluster.yaml"])["metadata"]["labels"]
    central = load(files["deploy/generated/global/prometheusrule.yaml"])["metadata"]["labels"]
    assert local["release"] == "kube-prometheus-stack" and local["idp-slo/layer"] == "cluster"
    assert "release" not in central and central["idp-slo/layer"] == "global"
    # Every cluster overlay applies deploy/generated: the global objects stay out of it.
    resources = load(files["deploy/generated/kustomization.yaml"])["resources"]
    assert "prometheusrule-cluster.yaml" in resources
    assert not any("global" in r for r in resources)
    assert load(files["deploy/generated/global/kustomization.yaml"])["resources"] == [
        "prometheusrule.yaml"
    ]
    # One generated test file per rules file, no single-mode one; and the cluster file's
    # threshold groups alone, for hand-written tests.
    assert sorted(p for p in files if p.startswith("alerts/tests/")) == [
        "alerts/tests/s.cluster.test.yml",
        "alerts/tests/s.global.long.test.yml",
        "alerts/tests/s.global.test.yml",
        "alerts/tests/s.thresholds.rules.yml",
    ]


def _series(metric: str, slo: str, cluster: str, values: str) -> dict[str, str]:
    labels = f'slo="{slo}", slo_spec="s", service="argo", team="core", cluster="{cluster}"'
    return {"series": f"{metric}{{{labels}}}", "values": values}


def _inputs(slo: str, traffic: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    """Base recordings per cluster: (error rate, total rate) in promtool's notation."""
    out = []
    for cluster, (errors, total) in traffic.items():
        out.append(_series("slo:sli_error_events:rate5m", slo, cluster, errors))
        out.append(_series("slo:sli_total_events:rate5m", slo, cluster, total))
    return out


def _run_tests(tmp_path: Path, promtool: str, rules: str, tests: list[dict[str, Any]]) -> str:
    (tmp_path / "global.rules.yml").write_text(rules)
    suite = {"rule_files": ["global.rules.yml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "t.test.yml").write_text(yaml.safe_dump(suite, sort_keys=False))
    result = run_promtool(promtool, "test", "rules", str(tmp_path / "t.test.yml"))
    return result.stdout + result.stderr if result.returncode else ""


ID = 'slo_spec="s", service="argo", team="core"'


def test_global_ratio_is_traffic_weighted_and_absent_while_a_cluster_is_missing(
    tmp_path: Path, promtool: str
) -> None:
    files = render(tmp_path, topology() + SLOS)
    # A quiet cluster failing everything, busy ones failing nothing, and an unlisted DR
    # cluster that counts but is not waited for: 1 error in 1+50+49+100 events.
    steady = {
        "us-east-1": ("1x40", "1x40"),
        "us-west-1": ("0x40", "50x40"),
        "eu-central-1": ("0x40", "49x40"),
        "dr-1": ("0x40", "100x40"),
    }
    missing = {**steady, "eu-central-1": ("0x10", "49x10")}  # stops after 10m
    cluster_missing = next(
        r
        for r in rules_of(load(files["alerts/s.global.rules.yml"])["groups"])
        if r.get("alert") == "SLOClusterMissing"
    )
    expanded = {
        k: v.replace("{{ $labels.cluster }}", "eu-central-1")
        for k, v in cluster_missing["annotations"].items()
    }
    tests = [
        {
            "interval": "1m",
            "input_series": _inputs("dep", steady),
            "promql_expr_test": [
                {
                    "expr": 'slo:sli_error:ratio_rate5m{slo="dep"}',
                    "eval_time": "10m",
                    "exp_samples": [
                        {"labels": f'slo:sli_error:ratio_rate5m{{slo="dep", {ID}}}', "value": 0.005}
                    ],
                }
            ],
            "alert_rule_test": [
                {"eval_time": "30m", "alertname": "SLOClusterMissing", "exp_alerts": []}
            ],
        },
        {
            "interval": "1m",
            "input_series": _inputs("dep", missing),
            "promql_expr_test": [
                {
                    "expr": 'slo:sli_error:ratio_rate5m{slo="dep"}',
                    "eval_time": "30m",
                    "exp_samples": [],
                },
                {
                    # The windows keep what was summed while every cluster reported.
                    "expr": 'slo:sli_error:ratio_rate30m{slo="dep"}',
                    "eval_time": "30m",
                    "exp_samples": [
                        {
                            "labels": f'slo:sli_error:ratio_rate30m{{slo="dep", {ID}}}',
                            "value": 0.005,
                        }
                    ],
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "30m",
                    "alertname": "SLOClusterMissing",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "slo_spec": "s",
                                "cluster": "eu-central-1",
                                "severity": "critical",
                                "team": "core",
                            },
                            "exp_annotations": expanded,
                        }
                    ],
                }
            ],
        },
    ]
    assert _run_tests(tmp_path, promtool, files["alerts/s.global.rules.yml"], tests) == ""


def test_per_cluster_slo_keeps_the_cluster_label_and_only_the_burning_cluster_alerts(
    tmp_path: Path, promtool: str
) -> None:
    files = render(tmp_path, topology() + SLOS)
    burning = {
        "us-east-1": ("1x40", "1x40"),
        "us-west-1": ("0x40", "50x40"),
        "eu-central-1": ("0x40", "49x40"),
    }
    tests = [
        {
            "interval": "1m",
            "input_series": _inputs("dep-cluster", burning),
            "promql_expr_test": [
                {
                    "expr": 'slo:sli_error:ratio_rate5m{slo="dep-cluster"}',
                    "eval_time": "10m",
                    "exp_samples": [
                        {
                            "labels": f'slo:sli_error:ratio_rate5m{{slo="dep-cluster", {ID}, cluster="{c}"}}',
                            "value": 1 if c == "us-east-1" else 0,
                        }
                        for c in CLUSTERS
                    ],
                },
                {
                    "expr": 'count by (cluster) (ALERTS{alertname="ErrorBudgetBurn", slo="dep-cluster", alertstate="firing"})',
                    "eval_time": "10m",
                    "exp_samples": [{"labels": '{cluster="us-east-1"}', "value": 4}],
                },
            ],
        }
    ]
    assert _run_tests(tmp_path, promtool, files["alerts/s.global.rules.yml"], tests) == ""


def test_single_mode_per_cluster_groups_by_the_cluster_label(tmp_path: Path) -> None:
    raw = """\
  - name: raw
    objective: 99
    scope: cluster
    sli:
      raw:
        errors: rate(app_errors_total[$window])
        total: rate(app_requests_total[$window])
"""
    body = SLOS.split("alerts:")[0] + raw
    groups = load(render(tmp_path, body)["alerts/s.rules.yml"])["groups"]
    records = {
        (r["labels"]["slo"], r["record"]): r["expr"] for r in rules_of(groups) if "record" in r
    }
    assert records[("dep-cluster", "slo:sli_total_events:rate5m")].startswith(
        "sum by (cluster) (max without (instance, pod) (rate(idp_deployments_total[5m])))"
    )
    assert records[("raw", "slo:sli_total_events:rate5m")].startswith(
        "sum by (cluster) (rate(app_requests_total[5m]))"
    )
    assert records[("dep", "slo:sli_total_events:rate5m")].startswith("sum(max without")
    # Saying the default changes nothing.
    assert render(tmp_path, "topology: {mode: single}\n" + body) == render(tmp_path, body)


def test_thanos_groups_abort_and_only_there(tmp_path: Path) -> None:
    m = tmp_path / "spec.yaml"
    m.write_text(HEAD + topology("thanos") + SLOS)
    built = model.load(str(m))
    plain = rules_split.global_groups(built)
    assert all(g.partial_response_strategy is None for g in plain)
    assert {g.partial_response_strategy for g in rules_split.for_evaluator(built, plain)} == {
        "abort"
    }


def test_mimir_namespace_and_tenant(tmp_path: Path) -> None:
    files = render(
        tmp_path, topology("mimir").replace("mimir}", "mimir, mimir_namespace: idp}") + SLOS
    )
    assert load(files["deploy/generated/global/mimir-s.yaml"])["namespace"] == "idp"
    assert "MIMIR_TENANT_ID" in files["deploy/generated/global/mimir-s.yaml"]
    target = load(files["deploy/generated/global/remote-write.yaml"])["remote_write"][0]
    assert target["headers"] == {"X-Scope-OrgID": "s"}
    assert not any(p.endswith("prometheusrule.yaml") and "global" in p for p in files)


def test_explain_says_what_runs_where(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + topology("thanos") + SLOS)
    text = explain.explain(model.load(str(path)))
    assert "every cluster's Prometheus (alerts/s.cluster.rules.yml)" in text
    assert "SLOMetricAbsent, threshold alerts QueueLong" in text
    assert "global evaluator (alerts/s.global.rules.yml)" in text
    assert "SLOClusterMissing (severity critical, for 10m), threshold alerts BudgetLow" in text
    assert "scope cluster: one SLO series per 'cluster'" in text
    result = cli("explain", str(path))
    assert result.exit_code == 0 and result.output == text


def test_check_takes_a_split_bundle_but_not_two_cluster_files_of_one_spec(tmp_path: Path) -> None:
    files = render(tmp_path, topology() + SLOS)
    alerts = tmp_path / "alerts"
    alerts.mkdir()
    for name in ("s.cluster.rules.yml", "s.global.rules.yml"):
        (alerts / name).write_text(files[f"alerts/{name}"])
    assert promtool_run.spec_collisions(sorted(alerts.iterdir())).ok
    (alerts / "copy.cluster.rules.yml").write_text(files["alerts/s.cluster.rules.yml"])
    collided = promtool_run.spec_collisions(sorted(alerts.iterdir()))
    assert not collided.ok and 'metadata.name "s"' in collided.output
    assert "s.global.rules.yml" not in collided.output
