"""Two idp-exporter replicas expose the same series, told apart only by the target labels
Prometheus adds (defaults.replica_labels). The generated SLIs must count their events once,
while a third-party metric from several pods is still summed."""

from __future__ import annotations

from pathlib import Path

import yaml

from .helpers import assert_refused, cli, run_promtool, spec

SPEC = """\
slos:
  - name: deploys
    objective: 99
    sli:
      ratio:
        errors: idp_deployments_total{result="failed"}
        total: idp_deployments_total
  - name: app
    objective: 99
    sli:
      ratio:
        errors: app_requests_total{code="500"}
        total: app_requests_total
  - name: health
    objective: 99
    sli:
      probe:
        metric: idp_probe_success{target="backstage"}
"""


def _render(tmp_path: Path, body: str) -> Path:
    out = tmp_path / "out"
    result = cli("render", str(spec(tmp_path, body)), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out / "alerts" / "t.rules.yml"


def _labels(rules: Path, slo: str, record: str) -> str:
    """The series a recording writes, as promtool's exp_samples names it."""
    groups = yaml.safe_load(rules.read_text())["groups"]
    labels = next(
        r["labels"]
        for g in groups
        for r in g["rules"]
        if r.get("record") == record and r["labels"]["slo"] == slo
    )
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _replica(name: str) -> str:
    return f'instance="{name}:9464",pod="{name}",job="idp-exporter"'


def test_two_replicas_count_each_event_once(tmp_path: Path, promtool: str) -> None:
    rules = _render(tmp_path, SPEC)
    # One event a second, a tenth failed, seen by both replicas; replica b restarts at
    # 60m (its counter resets and it misses two minutes). Backstage's own counter comes
    # from two distinct pods serving different requests: those are summed.
    a, b = _replica("a"), _replica("b")
    series = {
        f'idp_deployments_total{{result="succeeded",{a}}}': "0+54x120",
        f'idp_deployments_total{{result="failed",{a}}}': "0+6x120",
        f'idp_deployments_total{{result="succeeded",{b}}}': "0+54x60 _x2 0+54x58",
        f'idp_deployments_total{{result="failed",{b}}}': "0+6x60 _x2 0+6x58",
        'app_requests_total{code="200",pod="app-1"}': "0+54x120",
        'app_requests_total{code="500",pod="app-1"}': "0+6x120",
        'app_requests_total{code="200",pod="app-2"}': "0+54x120",
        'app_requests_total{code="500",pod="app-2"}': "0+6x120",
        f'idp_probe_success{{target="backstage",{a}}}': "1x120",
        f'idp_probe_success{{target="backstage",{b}}}': "1x30 0x29 1x60",
    }
    total, errors = "slo:sli_total_events:rate5m", "slo:sli_error_events:rate5m"

    def expect(slo: str, record: str, value: float, at: str) -> dict[str, object]:
        return {
            "expr": f"{record}{_labels(rules, slo, record)}",
            "eval_time": at,
            "exp_samples": [{"labels": f"{record}{_labels(rules, slo, record)}", "value": value}],
        }

    checks = [
        expect(s, r, v, at)
        for at in ("30m", "61m", "90m")
        for s, r, v in [
            ("deploys", total, 1.0),  # not 2: the replicas saw the same events
            ("deploys", errors, 0.1),
            ("app", total, 2.0),  # two pods, two streams of requests
            ("app", errors, 0.2),
        ]
    ] + [
        # One probed target, not two; its up share is the replicas' average.
        expect("health", total, 1.0, "45m"),
        expect("health", errors, 0.5, "45m"),
        expect("health", total, 1.0, "90m"),
        expect("health", errors, 0.0, "90m"),
    ]
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [
            {"series": k, "values": v} for k, v in series.items()
        ], "promql_expr_test": checks}],
    }  # fmt: skip
    test_file = tmp_path / "replicas.test.yml"
    test_file.write_text(yaml.safe_dump(test))
    proc = run_promtool(promtool, "test", "rules", str(test_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_empty_replica_labels_turn_deduplication_off(tmp_path: Path) -> None:
    rules = _render(tmp_path, "defaults:\n  replica_labels: []\n" + SPEC)
    text = rules.read_text()
    assert " without (" not in text
    assert "sum(rate(idp_deployments_total[5m]))" in text


def test_third_party_metrics_are_never_deduplicated(tmp_path: Path) -> None:
    text = _render(tmp_path, SPEC).read_text()
    assert "sum(max without (instance, pod) (rate(idp_deployments_total[5m])))" in text
    assert "sum(rate(app_requests_total[5m]))" in text


def test_grouping_by_a_replica_label_is_refused(tmp_path: Path) -> None:
    body = SPEC.replace(
        "total: idp_deployments_total\n",
        "total: idp_deployments_total\n        group_by: [pod]\n",
        1,
    )
    assert_refused(
        spec(tmp_path, body),
        7,
        "slos[0].sli.ratio.total",
        "idp_deployments_total is deduplicated across idp-exporter replicas by 'pod'",
    )
