"""Hand-designed dashboards of the spec -> the Grafana model."""

from __future__ import annotations

from rulegen import dashboards as ds
from rulegen import grafana as g
from rulegen import lint
from rulegen import spec as s


def _spec(**extra: object) -> s.Dashboard:
    data = {
        "uid": "argo",
        "title": "Argo",
        "variables": ["cluster"],
        "rows": [
            {
                "title": "Queue",
                "panels": [
                    {
                        "title": "Queued",
                        "type": "stat",
                        "unit": "short",
                        "description": "Pending workflows.",
                        "queries": [
                            {"expr": 'sum(idp_workflows{phase="Pending",cluster=~"$cluster"})'}
                        ],
                    },
                    {
                        "title": "By phase",
                        "type": "timeseries",
                        "unit": "short",
                        "description": "Workflows by phase.",
                        "queries": [
                            {
                                "expr": 'sum by (phase) (idp_workflows{cluster=~"$cluster"})',
                                "legend": "{{phase}}",
                            }
                        ],
                    },
                ],
            }
        ],
        **extra,
    }
    return s.Dashboard.model_validate(data)


def test_spec_dashboard_renders_lint_clean() -> None:
    d = g.render(ds.from_spec(_spec()))
    assert lint.lint_bundle([d], []) == []
    assert [(p["title"], p["gridPos"]["w"]) for p in d["panels"]] == [
        ("Queue", 24),
        ("Queued", 6),
        ("By phase", 12),
    ]
    assert d["panels"][2]["targets"][0]["legendFormat"] == "{{phase}}"


def test_label_variable_lists_values_of_the_metric_it_filters() -> None:
    (_, cluster) = g.render(ds.from_spec(_spec()))["templating"]["list"]
    assert cluster["query"]["query"] == "label_values(idp_workflows, cluster)"
    assert cluster["label"] == "Cluster"


def test_variable_metric_ignores_selectors_without_the_variable() -> None:
    exprs = [
        'sum(idp_deployments_total{cluster="a"})',
        'x + on() sum(idp_workflows{cluster=~"${cluster}"})',
    ]
    assert ds.variable_metric("cluster", exprs) == "idp_workflows"
    assert ds.variable_metric("cluster", ["sum(up)"]) is None


def test_missing_unit_and_description_are_located_lint_errors() -> None:
    spec = _spec()
    bare = spec.rows[0].panels[1].model_copy(update={"unit": None, "description": None})
    row = spec.rows[0].model_copy(update={"panels": [spec.rows[0].panels[0], bare]})
    d = g.render(ds.from_spec(spec.model_copy(update={"rows": [row]})))
    assert [(str(f.location), f.rule) for f in lint.lint_bundle([d], [])] == [
        ('dashboard argo, panel "By phase"', "panel-title-description-rule"),
        ('dashboard argo, panel "By phase"', "panel-units-rule"),
    ]


def test_a_panel_ignoring_the_cluster_variable_is_a_located_lint_error() -> None:
    spec = _spec()
    query = spec.rows[0].panels[1].queries[0].model_copy(update={"expr": "sum(idp_workflows)"})
    panel = spec.rows[0].panels[1].model_copy(update={"queries": [query]})
    row = spec.rows[0].model_copy(update={"panels": [spec.rows[0].panels[0], panel]})
    d = g.render(ds.from_spec(spec.model_copy(update={"rows": [row]})))
    assert [(str(f.location), f.rule) for f in lint.lint_bundle([d], [])] == [
        ('dashboard argo, panel "By phase", target 0', "target-variable-filter-rule"),
    ]
