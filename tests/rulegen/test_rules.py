"""Rule shapes the contract and dashboards rely on, checked on the model's output directly."""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import pytest
import yaml

from rulegen import bundle, model, naming, promql
from rulegen.promql import le_matcher, string

from .conftest import GOLDEN
from .helpers import spec


def _groups(path: Path) -> list[dict]:  # type: ignore[type-arg]
    files = bundle.render(model.load(str(path)))
    return yaml.safe_load(next(v for k, v in files.items() if k.endswith(".rules.yml")))["groups"]  # type: ignore[no-any-return]


def _ranges(expr: str) -> list[str]:
    found: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.MatrixSelector):
            found.append(f"{node.vector_selector.name}[{int(node.range.total_seconds())}s]")

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def test_long_windows_never_read_raw_series_over_the_period() -> None:
    for group in _groups(GOLDEN / "ratio" / "spec.yaml"):
        for rule in group["rules"]:
            for rng in _ranges(rule["expr"]):
                name, seconds = rng.split("[")
                if int(seconds.rstrip("s]")) >= 12 * 3600:
                    assert name.startswith("slo:sli_"), (
                        f"{rule.get('record')}: {rng} reads raw series"
                    )


def test_groups_split_by_cost_and_pages_stay_fast() -> None:
    groups = _groups(GOLDEN / "ratio" / "spec.yaml")
    assert [(g["name"], g.get("interval")) for g in groups] == [
        ("slo:deployment-success:short", None),
        ("slo:deployment-success:buckets", "5m"),
        ("slo:deployment-success:hourly", "1h"),
        ("slo:deployment-success:long", "2m"),
    ]
    fast, buckets, hourly, slow = groups
    assert all("record" in r for g in (buckets, hourly) for r in g["rules"])
    # Page windows (1h/5m, 6h/30m) stay exact, every evaluation, with the page alerts.
    assert [r.get("record", r.get("alert")) for r in fast["rules"]] == [
        "slo:sli_error_events:rate5m",
        "slo:sli_total_events:rate5m",
        "slo:sli_error:ratio_rate5m",
        "slo:sli_error:ratio_rate30m",
        "slo:sli_error:ratio_rate1h",
        "slo:sli_error:ratio_rate6h",
        "ErrorBudgetBurn",
        "ErrorBudgetBurn",
    ]
    # Ticket windows, then the ticket and absent alerts that read them, then the budget.
    assert [r.get("record", r.get("alert")) for r in slow["rules"]] == [
        "slo:sli_error:ratio_rate2h",
        "slo:sli_error:ratio_rate1d",
        "slo:sli_error:ratio_rate3d",
        "slo:sli_error:ratio_rate30d",
        "ErrorBudgetBurn",
        "ErrorBudgetBurn",
        "SLOMetricAbsent",
        naming.OBJECTIVE,
        naming.ERROR_BUDGET,
        naming.ERROR_BUDGET_REMAINING,
    ]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert [(a["alert"], a["labels"].get("long_window", None)) for a in alerts] == [
        ("ErrorBudgetBurn", "1h"),
        ("ErrorBudgetBurn", "6h"),
        ("ErrorBudgetBurn", "1d"),
        ("ErrorBudgetBurn", "3d"),
        ("SLOMetricAbsent", None),
    ]
    assert alerts[0]["for"] == "2m" and "for" not in alerts[1]
    assert alerts[-1]["for"] == "10m" and alerts[-1]["labels"]["severity"] == "warning"


def _matrix_reads(expr: str) -> list[tuple[str, int]]:
    """(metric, range in ms) of every range selector."""
    found: list[tuple[str, int]] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.MatrixSelector):
            ms = int(node.range.total_seconds() * 1000)
            found.append((str(node.vector_selector.name), ms))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def _instant_reads(expr: str) -> list[str]:
    names: list[str] = []
    in_range: set[int] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.MatrixSelector):
            in_range.add(id(node.vector_selector))
        elif isinstance(node, promql_parser.VectorSelector) and id(node) not in in_range:
            names.append(str(node.name))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def test_chained_sums_never_count_a_sample_twice() -> None:
    # Range selectors are closed at both ends: a bucket read over its full length would
    # count a boundary sample in two buckets. Every read of a level below is a whole
    # number of that level's buckets, a millisecond short.
    step = {"rate5m": 300_000, "rate5m_sum5m": 300_000, "rate5m_sum1h": 3_600_000}
    seen = set()
    for group in _groups(GOLDEN / "ratio" / "spec.yaml"):
        for rule in group["rules"]:
            for name, ms in _matrix_reads(rule["expr"]):
                level = name.rsplit(":", 1)[-1]
                if not name.startswith("slo:sli_") or level not in step:
                    continue
                seen.add(level)
                assert (ms + 1) % step[level] == 0, (rule.get("record"), name, ms)
                if rule.get("record", "").endswith(("_sum5m", "_sum1h")):
                    interval = 300_000 if rule["record"].endswith("_sum5m") else 3_600_000
                    assert ms + 1 == interval, rule
    assert seen == set(step)


def test_bucket_and_hourly_sums_are_read_through_ranges_only() -> None:
    # A 1h group's sample is an instant query's answer for 5m of each hour only.
    for path in (GOLDEN / "ratio" / "spec.yaml", GOLDEN / "group-by" / "spec.yaml"):
        for group in _groups(path):
            for rule in group["rules"]:
                bare = [n for n in _instant_reads(rule["expr"]) if "_sum" in n]
                assert not bare, (rule.get("record"), bare)


def test_every_rule_carries_slo_service_and_spec_labels() -> None:
    for group in _groups(GOLDEN / "group-by" / "spec.yaml"):
        for rule in group["rules"]:
            assert rule["labels"]["slo_spec"] == "group-by", rule
            assert {"slo", "service", "team", "tier"} <= set(rule["labels"]), rule


def test_every_generated_rule_selects_on_slo_and_spec() -> None:
    # A selector on `slo` alone would also read another spec's SLO of the same name.
    for group in _groups(GOLDEN / "group-by" / "spec.yaml"):
        for rule in group["rules"]:
            for sel in re.findall(r"slo:[a-z_:0-9]+\{[^}]*\}", rule["expr"]):
                assert 'slo="' in sel and 'slo_spec="group-by"' in sel, (rule, sel)


def test_burn_alert_labels_and_annotations() -> None:
    alert = next(
        r
        for g in _groups(GOLDEN / "ratio" / "spec.yaml")
        for r in g["rules"]
        if r.get("alert") == "ErrorBudgetBurn"
    )
    assert alert["expr"] == (
        'slo:sli_error:ratio_rate1h{slo="deployment-success", slo_spec="ratio"} > (14.4 * 0.001) '
        'and slo:sli_error:ratio_rate5m{slo="deployment-success", slo_spec="ratio"}'
        " > (14.4 * 0.001)"
    )
    assert alert["labels"] == {
        "slo": "deployment-success",
        "slo_spec": "ratio",
        "service": "argo-workflows",
        "team": "platform",
        "severity": "critical",
        "long_window": "1h",
        "short_window": "5m",
        "component": "argo-workflows",
    }
    assert (
        alert["annotations"]["runbook_url"]
        == "https://docs.example.com/runbooks/deployment-failures"
    )
    assert alert["annotations"]["summary"].endswith(".")
    assert "{{ $value | humanizePercentage }}" in alert["annotations"]["description"]


def test_user_strings_are_escaped_in_promql_and_templates(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        r"""
        slos:
          - name: a
            description: 'Say {{ "hi" }} and {{ $labels.x }}.'
            objective: 99
            sli:
              ratio:
                errors: 'x_total{path="/a\"b\\c", code=~"5.."}'
                total: x_total
        """.replace("\n        ", "\n"),
    )
    text = next(
        v for k, v in bundle.render(model.load(str(path))).items() if k.endswith("rules.yml")
    )
    assert r'x_total{path="/a\"b\\c",code=~"5.."}' in text
    desc = next(
        r
        for g in yaml.safe_load(text)["groups"]
        for r in g["rules"]
        if r.get("alert") == "ErrorBudgetBurn"
    )["annotations"]["description"]
    assert desc.startswith(
        'Say {{ "{{" }} "hi" }} and {{ "{{" }} $labels.x }}. {{ $value | humanizePercentage }}'
    )
    assert string('a"b\\c\n') == '"a\\"b\\\\c\\n"'


@pytest.mark.parametrize(
    ("threshold", "matcher"),
    [("900", 'le=~"900|900\\\\.0"'), ("0.25", 'le="0.25"'), ("1", 'le=~"1|1\\\\.0"')],
)
def test_le_matcher_matches_every_client_format(threshold: str, matcher: str) -> None:
    from decimal import Decimal

    assert le_matcher(Decimal(threshold)).render() == matcher


def test_zero_traffic_guards() -> None:
    rules_by_name = {
        r["record"]: r["expr"]
        for g in _groups(GOLDEN / "ratio" / "spec.yaml")
        for r in g["rules"]
        if "record" in r
    }
    assert rules_by_name["slo:sli_error_events:rate5m"].endswith(
        " or 0 * sum(max without (instance, pod) (rate(idp_deployments_total[5m])))) >= 0 < +Inf"
    )
    for name, expr in rules_by_name.items():
        if name.startswith("slo:sli_error:ratio_rate"):
            assert expr.endswith(" > 0)"), f"{name} divides by an unguarded total"


def test_objective_series_carry_group_labels_with_group_by() -> None:
    rules_by_name = {
        (g["name"], r["record"]): r["expr"]
        for g in _groups(GOLDEN / "group-by" / "spec.yaml")
        for r in g["rules"]
        if "record" in r
    }
    assert (
        rules_by_name[("slo:deployment-success:long", naming.OBJECTIVE)]
        == '0 * slo:sli_error:ratio_rate30d{slo="deployment-success", slo_spec="group-by"} + 0.95'
    )
    assert (
        "sum by (environment, cluster) (max without (instance, pod) "
        '(rate(idp_deployments_total{cluster=~"us-.*"}[5m])))'
        in rules_by_name[("slo:deployment-success:short", "slo:sli_total_events:rate5m")]
    )


def test_number_formatting_is_plain_decimal() -> None:
    from decimal import Decimal

    assert promql.number(Decimal("0.00100")) == "0.001"
    assert promql.number(Decimal("1E-5")) == "0.00001"
    assert promql.number(Decimal("14.40")) == "14.4"
