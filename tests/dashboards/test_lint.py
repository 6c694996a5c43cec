"""Each lint rule: the baseline is clean, one mutation gives exactly the located finding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rulegen import grafana as g
from rulegen import lint
from tests.dashboards.helpers import CLUSTER, sample_json

METRICS = lint.known_metrics([])
JSON = dict[str, Any]


def _panel(d: JSON, title: str) -> JSON:
    return next(p for p in d["panels"] if p.get("title") == title)


def _set_expr(title: str, expr: str) -> Callable[[JSON], None]:
    def mutate(d: JSON) -> None:
        _panel(d, title)["targets"][0]["expr"] = expr

    return mutate


def test_baseline_dashboard_is_clean() -> None:
    assert lint.lint_dashboard(sample_json(), METRICS) == []


def _del(path: list[Any]) -> Callable[[JSON], None]:
    def mutate(d: JSON) -> None:
        obj: Any = d
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]

    return mutate


def _set(path: list[Any], value: Any) -> Callable[[JSON], None]:
    def mutate(d: JSON) -> None:
        obj: Any = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value

    return mutate


RATE = "Deployment rate"


def _cf(expr: str) -> str:
    """expr with `{}` replaced by the cluster variable's filter (which every series of the
    catalog that has a cluster label needs on this dashboard)."""
    return expr.replace("{}", '{cluster=~"$cluster"}')


STAT = "Deployments (24h)"
P_RATE = 'dashboard sample, panel "Deployment rate"'
T_RATE = P_RATE + ", target 0"

CASES: list[tuple[str, Callable[[JSON], None], str, str]] = [
    ("editable", _set(["editable"], True), "dashboard sample", "uneditable-dashboard"),
    ("long uid", _set(["uid"], "x" * 41), "dashboard " + "x" * 41, "dashboard-uid"),
    ("bad uid chars", _set(["uid"], "a/b"), "dashboard a/b", "dashboard-uid"),
    ("no schemaVersion", _del(["schemaVersion"]), "dashboard sample", "dashboard-schema-version"),
    (
        "no datasource var",
        _del(["templating", "list", 0]),
        "dashboard sample",
        "template-datasource-rule",
    ),
    (
        "datasource label",
        _set(["templating", "list", 0, "label"], "Data Source"),
        "dashboard sample",
        "template-datasource-rule",
    ),
    (
        "refresh on load",
        _set(["templating", "list", 1, "refresh"], 1),
        "dashboard sample, variable cluster",
        "template-on-time-change-reload-rule",
    ),
    (
        "bad variable query",
        _set(["templating", "list", 1, "query", "query"], "label_values(idp_workflows{, cluster)"),
        "dashboard sample, variable cluster",
        "template-label-promql-rule",
    ),
    (
        "variable unknown metric",
        _set(["templating", "list", 1, "query", "query"], "label_values(nope, cluster)"),
        "dashboard sample, variable cluster",
        "metric-exists",
    ),
    (
        "panel fixed datasource",
        _set(["panels", 2, "datasource"], {"type": "prometheus", "uid": "prom"}),
        P_RATE,
        "panel-datasource-rule",
    ),
    (
        "target fixed datasource",
        _set(["panels", 2, "targets", 0, "datasource"], "Prometheus"),
        T_RATE,
        "panel-datasource-rule",
    ),
    (
        "no description",
        _set(["panels", 2, "description"], ""),
        P_RATE,
        "panel-title-description-rule",
    ),
    (
        "unknown unit",
        _set(["panels", 2, "fieldConfig", "defaults", "unit"], "requests"),
        P_RATE,
        "panel-units-rule",
    ),
    ("no unit", _del(["panels", 2, "fieldConfig", "defaults", "unit"]), P_RATE, "panel-units-rule"),
    ("no targets", _set(["panels", 2, "targets"], []), P_RATE, "panel-no-targets-rule"),
    ("unknown panel type", _set(["panels", 2, "type"], "graph"), P_RATE, "panel-type"),
    (
        "threshold not null",
        _set(["panels", 2, "fieldConfig", "defaults", "thresholds", "steps", 0, "value"], 0),
        P_RATE,
        "panel-thresholds",
    ),
    (
        "threshold unsorted",
        _set(
            ["panels", 2, "fieldConfig", "defaults", "thresholds", "steps"],
            [{"color": "g", "value": None}, {"color": "r", "value": 2}, {"color": "y", "value": 1}],
        ),
        P_RATE,
        "panel-thresholds",
    ),
    (
        "invalid promql",
        _set_expr(RATE, "sum(rate(idp_deployments_total[$__rate_interval])"),
        T_RATE,
        "target-promql-rule",
    ),
    (
        "sum over range (Pyrra's bug)",
        _set_expr(RATE, "sum(idp_deployments_total[$__rate_interval])"),
        T_RATE,
        "target-promql-rule",
    ),
    (
        "undefined variable",
        _set_expr(
            RATE,
            'sum(rate(idp_deployments_total{slo="$slo",cluster=~"$cluster"}[$__rate_interval]))',
        ),
        T_RATE,
        "target-promql-rule",
    ),
    (
        "unknown metric",
        _set_expr(RATE, "sum(rate(workflow_success_total[$__rate_interval]))"),
        T_RATE,
        "metric-exists",
    ),
    (
        "unknown __name__",
        _set_expr(RATE, 'sum(rate({__name__="nope_total"}[$__rate_interval]))'),
        T_RATE,
        "metric-exists",
    ),
    (
        "__name__ regex matching nothing",
        _set_expr(RATE, 'sum(rate({__name__=~"nope.*"}[$__rate_interval]))'),
        T_RATE,
        "metric-exists",
    ),
    (
        "fixed rate window",
        _set_expr(RATE, _cf("sum(rate(idp_deployments_total{}[5m]))")),
        T_RATE,
        "target-rate-interval-rule",
    ),
    (
        "irate with $__interval",
        _set_expr(RATE, _cf("sum(irate(idp_deployments_total{}[$__interval]))")),
        T_RATE,
        "target-rate-interval-rule",
    ),
    (
        "bare counter",
        _set_expr(RATE, _cf("sum(idp_deployments_total{})")),
        T_RATE,
        "target-counter-agg-rule",
    ),
    (
        "multi variable matched with =",
        _set_expr(RATE, 'sum(rate(idp_deployments_total{cluster="$cluster"}[$__rate_interval]))'),
        T_RATE,
        "target-variable-regex-rule",
    ),
    (
        "multi variable matched with !=",
        _set_expr(RATE, 'sum(rate(idp_deployments_total{cluster!="$cluster"}[$__rate_interval]))'),
        T_RATE,
        "target-variable-regex-rule",
    ),
    (
        "labelled series not filtered by the variable",
        _set_expr(RATE, "sum(rate(idp_deployments_total[$__rate_interval]))"),
        T_RATE,
        "target-variable-filter-rule",
    ),
    ("duplicate panel id", _set(["panels", 2, "id"], 2), "dashboard sample", "panel-id-unique"),
    (
        "overlap",
        _set(["panels", 3, "gridPos"], {"h": 8, "w": 8, "x": 4, "y": 2}),
        'dashboard sample, panel "Queued workflows"',
        "panel-gridpos",
    ),
    (
        "wider than grid",
        _set(["panels", 3, "gridPos"], {"h": 8, "w": 8, "x": 20, "y": 40}),
        'dashboard sample, panel "Queued workflows"',
        "panel-gridpos",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "location", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_reports_a_located_finding(
    mutate: Callable[[JSON], None], location: str, rule: str
) -> None:
    d = sample_json()
    mutate(d)
    findings = lint.lint_dashboard(d, METRICS)
    assert findings, "expected a finding"
    assert {(str(f.location), f.rule) for f in findings} == {(location, rule)}, findings


def test_fixed_window_is_allowed_in_instant_single_value_queries() -> None:
    # Stat panels are instant queries: [24h] is the statistic ("in the last 24h").
    d = sample_json()
    assert _panel(d, STAT)["targets"][0]["instant"] is True
    assert "[24h]" in _panel(d, STAT)["targets"][0]["expr"]
    assert lint.lint_dashboard(d, METRICS) == []


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(idp_deployments_total{cluster=~"${cluster}"}[$__rate_interval]))',
        'sum(rate(idp_deployments_total{cluster=~"${cluster:regex}"}[${__rate_interval}]))',
        'sum(rate(idp_deployments_total{cluster=~"[[cluster]]"}[$__rate_interval]))',
        _cf("sum(increase(idp_deployments_total{}[$__rate_interval])) * $__range_s"),
        _cf("1 - (time() - $__from / 1000) / 2592000 + 0 * sum(idp_workflows{})"),
        _cf('label_replace(sum by (phase) (idp_workflows{}), "p", "$1", "phase", "(.*)")'),
        _cf(
            "histogram_quantile(0.95, sum by (le) "
            "(rate(idp_deployment_duration_seconds_bucket{}[$__rate_interval])))"
        ),
        'sum(ALERTS{alertstate="firing"}) + sum(up)',
    ],
)
def test_grafana_variable_forms_expand_to_valid_promql(expr: str) -> None:
    d = sample_json()
    _set_expr(RATE, expr)(d)
    assert lint.lint_dashboard(d, METRICS) == []


def test_external_and_recorded_metrics_are_known() -> None:
    groups = [{"name": "g", "rules": [{"record": "slo:objective:ratio", "expr": "vector(0.95)"}]}]
    metrics = lint.known_metrics(groups, ["kube_pod_status_phase"])
    assert metrics.knows("slo:objective:ratio") and metrics.knows("kube_pod_status_phase")
    assert metrics.knows("idp_deployment_duration_seconds_bucket")
    assert not metrics.knows("idp_deployment_duration_seconds")  # histograms expose suffixes only
    assert metrics.matches("slo:.*")


def test_rule_groups_are_linted_with_their_location() -> None:
    groups = [
        {
            "name": "slo-idp",
            "rules": [
                {"record": "slo:x:rate5m", "expr": "sum(rate(idp_deployments_total[5m]))"},
                {"alert": "Foo", "expr": "slo:x:rate5m > 0 and on() http_requests_total > 0"},
                {"alert": "Bar", "expr": "sum(rate(x[5m])"},
            ],
        }
    ]
    findings = lint.lint_rule_groups(groups, lint.known_metrics(groups))
    assert [(str(f.location), f.rule) for f in findings] == [
        ("rule group slo-idp, rule Foo", "metric-exists"),
        ("rule group slo-idp, rule Bar", "rule-promql"),
    ]
    assert "http_requests_total" in findings[0].message
    assert (
        str(findings[0])
        == "rule group slo-idp, rule Foo: metric-exists: unknown metric 'http_requests_total'"
    )


def test_bundle_reports_duplicate_uids_and_titles_sorted() -> None:
    a, b = sample_json(), sample_json()
    findings = lint.lint_bundle([a, b], [])
    assert [(str(f.location), f.rule) for f in findings] == [
        ("dashboard sample", "dashboard-title"),
        ("dashboard sample", "dashboard-uid"),
    ]


def test_excluded_rules_state_a_reason() -> None:
    assert set(lint.EXCLUDED_RULES) >= {"template-job-rule", "target-instance-rule"}
    assert all(reason.strip() for reason in lint.EXCLUDED_RULES.values())


def test_rendered_model_is_clean_for_every_panel_type() -> None:
    panels = tuple(
        g.Panel(t, t, "short", "d", (g.Target(_cf("sum(idp_workflows{})")),))
        for t in g.PANEL_TYPES  # type: ignore[arg-type]
    )
    d = g.render(g.Dashboard("all", "All", (g.Row("r", panels),), variables=(CLUSTER,)))
    assert lint.lint_dashboard(d, METRICS) == []


def test_findings_carry_a_structured_location() -> None:
    d = sample_json()
    _set_expr(RATE, "sum(rate(nope_total[$__rate_interval]))")(d)
    (f,) = lint.lint_dashboard(d, METRICS)
    assert (f.location.uid, f.location.panel_id, f.location.panel, f.location.target) == (
        "sample",
        3,
        RATE,
        0,
    )


def test_without_declared_externals_only_owned_names_are_checked() -> None:
    lenient = lint.known_metrics([], None)
    assert lenient.knows("app_requests_total") and lenient.matches("app_.*")
    assert not lenient.knows("idp_deployment_total")  # a typo of idp_deployments_total
    assert not lenient.knows("slo:sli_error:ratio_rate1h")  # not recorded by this bundle
    strict = lint.known_metrics([], ["app_requests_total"])
    assert strict.knows("app_requests_total") and not strict.knows("app_errors_total")


def test_cluster_variable_findings_name_the_series_and_the_fix() -> None:
    d = sample_json()
    _set_expr(RATE, "sum(rate(idp_deployments_total[$__rate_interval]))")(d)
    (f,) = lint.lint_dashboard(d, METRICS)
    assert f.message == (
        "idp_deployments_total has a 'cluster' label but is not filtered by "
        'cluster=~"$cluster": the panel ignores the variable'
    )
    # A pinned cluster is a choice, and series without the label need no filter.
    for expr in (
        'sum(rate(idp_deployments_total{cluster="us-east-1"}[$__rate_interval]))',
        "sum(rate(idp_probes_total[$__rate_interval]))",
    ):
        _set_expr(RATE, expr)(d)
        assert lint.lint_dashboard(d, METRICS) == [], expr
    # A single-value variable (no multi, no All) may be matched with `=`.
    d["templating"]["list"][1].update(multi=False, includeAll=False)
    _set_expr(RATE, 'sum(rate(idp_deployments_total{cluster="$cluster"}[$__rate_interval]))')(d)
    assert lint.lint_dashboard(d, METRICS) == []


def test_a_dashboard_reading_cluster_labelled_series_needs_a_cluster_variable() -> None:
    panel = g.Panel("Queued", "stat", "short", "d", (g.Target("sum(idp_workflows)"),))
    d = g.render(g.Dashboard("argo", "Argo", (g.Row("r", (panel,)),)))
    assert [(str(f.location), f.rule) for f in lint.lint_dashboard(d, METRICS)] == [
        ('dashboard argo, panel "Queued", target 0', "template-cluster-variable-rule"),
    ]
    probes = g.Panel("Probes", "stat", "short", "d", (g.Target("sum(idp_probe_success)"),))
    d = g.render(g.Dashboard("probes", "Probes", (g.Row("r", (probes,)),)))
    assert lint.lint_dashboard(d, METRICS) == []  # no cluster label: no variable needed
