"""Generated SLO dashboards: the panels the issue names, valid queries, grouping, periods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from common.durations import DAY, HOUR, MINUTE
from rulegen import grafana as g
from rulegen import lint, naming, schema_check
from rulegen import slo_dashboards as sd
from tests.dashboards import clusters as c
from tests.dashboards.helpers import (
    CLUSTER_PANELS,
    SLO_DETAIL_PANELS,
    SLO_DETAIL_PANELS_BY_CLUSTER,
    SLO_OVERVIEW_PANELS,
    SLO_OVERVIEW_PANELS_BY_CLUSTER,
)

TIERS_30D = (
    sd.TierView("page-fast", "page", "critical", HOUR, 5 * MINUTE, 14.4),
    sd.TierView("page-slow", "page", "critical", 6 * HOUR, 30 * MINUTE, 6),
    sd.TierView("ticket-fast", "ticket", "warning", DAY, 2 * HOUR, 3),
    sd.TierView("ticket-slow", "ticket", "warning", 3 * DAY, 6 * HOUR, 1),
)
TIERS_7D = (sd.TierView("page-fast", "page", "critical", 14 * MINUTE, MINUTE * 2, 14.4),)
SLOS = (
    sd.SloView(
        "deployment-success",
        "argo",
        0.95,
        30 * DAY,
        5 * MINUTE,
        ("environment",),
        TIERS_30D,
        spec="platform",
    ),
    sd.SloView(
        "backstage-availability",
        "backstage",
        0.995,
        30 * DAY,
        5 * MINUTE,
        (),
        TIERS_30D,
        spec="platform",
    ),
    sd.SloView("weekly", "x", 0.99, 7 * DAY, 5 * MINUTE, (), TIERS_7D, spec="platform"),
    sd.SloView("silent", "x", 0.9, 30 * DAY, 5 * MINUTE, (), (), spec="platform"),
)


def _recorded(slos: tuple[sd.SloView, ...]) -> list[dict[str, Any]]:
    """Rule-group stand-ins recording what rules.py records for these SLOs."""
    names = {naming.OBJECTIVE, naming.ERROR_BUDGET, naming.ERROR_BUDGET_REMAINING}
    for s in slos:
        names |= {
            naming.sli_error_ratio(s.period),
            naming.error_events(s.base_window),
            naming.total_events(s.base_window),
        }
        names |= {
            naming.sli_error_ratio(w) for t in s.tiers for w in (t.long_window, t.short_window)
        }
    return [{"name": "g", "rules": [{"record": n, "expr": "vector(1)"} for n in sorted(names)]}]


def _titles(d: dict[str, Any]) -> list[str]:
    return [p["title"] for p in d["panels"] if p["type"] != "row"]


def _panel(d: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in d["panels"] if p["title"] == title)


def test_both_dashboards_lint_clean() -> None:
    dashboards = [g.render(sd.overview(SLOS)), g.render(sd.detail(SLOS))]
    assert lint.lint_bundle(dashboards, _recorded(SLOS)) == []


def test_overview_panels() -> None:
    d = g.render(sd.overview(SLOS))
    assert d["uid"] == "slo-overview"
    assert _titles(d) == SLO_OVERVIEW_PANELS
    table = _panel(d, "SLOs by budget remaining")
    assert table["options"]["sortBy"] == [{"desc": False, "displayName": "Budget remaining"}]
    columns = [o["properties"][0]["value"] for o in table["fieldConfig"]["overrides"][1:]]
    assert columns == ["Objective", "SLI (period)", "Budget remaining", "Firing alerts"]
    exprs = [t["expr"] for t in table["targets"]]
    # Two periods: each period ratio is read only for its own SLOs, of its own spec.
    assert (
        'slo:sli_error:ratio_rate30d{slo_spec="platform",'
        'slo=~"deployment-success|backstage-availability|silent"}' in exprs[1]
    )
    assert 'slo:sli_error:ratio_rate1w{slo_spec="platform",slo="weekly"}' in exprs[1]
    # Joins keep SLOs of different specs apart even when their names are equal.
    assert "on(slo_spec, slo)" in exprs[0] and "on(slo_spec, slo)" in exprs[3]
    assert "ALERTS" in exprs[3]


def test_detail_panels_and_spec_and_slo_variables() -> None:
    d = g.render(sd.detail(SLOS))
    assert d["uid"] == "slo-detail"
    spec_var, slo_var = d["templating"]["list"][1:3]
    assert (spec_var["name"], spec_var["multi"], spec_var["includeAll"]) == (
        "slo_spec",
        False,
        False,
    )
    assert spec_var["query"]["query"] == "label_values(slo:objective:ratio, slo_spec)"
    # The SLO is chosen among the chosen spec's: the pair names one SLO.
    assert (slo_var["name"], slo_var["multi"], slo_var["includeAll"]) == ("slo", False, False)
    assert (
        slo_var["query"]["query"] == 'label_values(slo:objective:ratio{slo_spec="$slo_spec"}, slo)'
    )
    targets = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    assert all('slo_spec="$slo_spec",slo="$slo"' in e for e in targets if "$slo" in e)
    assert _titles(d) == SLO_DETAIL_PANELS


def test_burn_rate_panel_draws_each_window_and_tier_threshold() -> None:
    burn = _panel(g.render(sd.detail(SLOS)), "Burn rate per alert window")
    legends = [t["legendFormat"] for t in burn["targets"]]
    for w in ("2m", "5m", "14m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert f"{w} {{{{environment}}}}" in legends
    thresholds = [t for t in burn["targets"] if "threshold" in t["legendFormat"]]
    assert [t["legendFormat"] for t in thresholds] == [
        "page threshold x14.4 (1h/5m)",
        "page threshold x6 (6h/30m)",
        "ticket threshold x3 (1d/2h)",
        "ticket threshold x1 (3d/6h)",
        "page threshold x14.4 (14m/2m)",
    ]
    # A tier's line appears only for the SLOs that have that tier.
    assert 'slo_spec="platform",slo="weekly"' in thresholds[-1]["expr"]
    assert thresholds[-1]["expr"].endswith("+ 14.4")


def test_budget_panel_has_an_ideal_burn_down_per_period() -> None:
    budget = [
        p for p in g.render(sd.detail(SLOS))["panels"] if p["title"] == "Error budget remaining"
    ][-1]
    legends = [t["legendFormat"] for t in budget["targets"]]
    assert legends == ["remaining {{environment}}", "ideal burn-down (30d)", "ideal burn-down (1w)"]
    assert "/ 2592000" in budget["targets"][1]["expr"] and "$__from" in budget["targets"][1]["expr"]


def test_grouped_slos_get_one_line_per_group() -> None:
    d = g.render(sd.detail(SLOS))
    for t in _panel(d, "SLI vs objective")["targets"][:-1]:
        assert "{{environment}}" in t["legendFormat"]
    ungrouped = (SLOS[1],)
    d1 = g.render(sd.detail(ungrouped))
    assert all("{{" not in t["legendFormat"] for t in _panel(d1, "SLI vs objective")["targets"])
    # A single SLO needs no per-SLO restriction.
    assert all(
        'slo_spec="platform"' not in t["expr"] for p in d1["panels"] for t in p.get("targets", [])
    )


def test_rendering_is_byte_stable() -> None:
    assert g.to_json(g.render(sd.detail(SLOS))) == g.to_json(g.render(sd.detail(SLOS)))


def test_slos_with_alerting_off_everywhere_lint_clean() -> None:
    """Every SLO with `page: false, ticket: false`: no alert window, so no burn-rate row
    (it was a panel without targets, and `validate` refused a valid spec)."""
    silent = (SLOS[-1],)
    detail = g.render(sd.detail(silent))
    assert lint.lint_bundle([detail], _recorded(silent)) == []
    assert "Burn rate per alert window" not in _titles(detail)
    assert "Burn rate per alert window" in _titles(g.render(sd.detail(SLOS)))


# ----------------------------------------------------------------------------- clusters

GOLDEN = Path(__file__).with_name("golden")


def _targets(d: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in d["panels"] for t in p.get("targets", [])]


def test_without_cluster_data_the_dashboards_have_no_cluster_anything() -> None:
    for d in (sd.overview(SLOS), sd.detail(SLOS)):
        assert "cluster" not in g.to_json(g.render(d)).lower()


def test_cluster_data_adds_a_multi_select_variable_and_the_per_cluster_rows() -> None:
    overview, detail = g.render(sd.overview(c.SLOS)), g.render(sd.detail(c.SLOS))
    names = [[v["name"] for v in d["templating"]["list"]] for d in (overview, detail)]
    assert names == [["datasource", "cluster"], ["datasource", "slo_spec", "slo", "cluster"]]
    for d in (overview, detail):
        var = d["templating"]["list"][-1]
        assert (var["multi"], var["includeAll"], var["allValue"]) == (True, True, ".+")
        assert var["current"]["value"] == ["$__all"]
    # Two base windows: the variable lists the clusters of either recording.
    assert detail["templating"]["list"][-1]["query"]["query"] == (
        'label_values({__name__=~"slo:sli_total_events:rate5m|slo:sli_total_events:rate10m",'
        'slo_spec="$slo_spec",slo="$slo"}, cluster)'
    )
    assert _titles(overview) == SLO_OVERVIEW_PANELS_BY_CLUSTER
    assert _titles(detail) == SLO_DETAIL_PANELS_BY_CLUSTER
    table = _panel(overview, "SLOs per cluster")
    assert table["options"]["sortBy"] == [{"desc": True, "displayName": "Burn rate (range)"}]


def test_every_query_on_cluster_data_filters_by_the_variable_as_a_regex() -> None:
    for d in (g.render(sd.overview(c.SLOS)), g.render(sd.detail(c.SLOS))):
        for expr in _targets(d):
            # Multi choices and All expand to regexes: an `=` matcher would match nothing.
            assert 'cluster=~"$cluster' in expr and 'cluster="$cluster' not in expr, expr


def test_per_cluster_panels_read_only_slos_whose_data_has_a_cluster_label() -> None:
    """Single mode: a `scope: cluster` SLO beside a global one whose recordings have none."""
    global_ = SLOS[1]
    mixed = (global_, replace(c.B, scope="cluster"))
    detail = g.render(sd.detail(mixed))
    for title in CLUSTER_PANELS:
        for t in _panel(detail, title)["targets"]:
            assert 'slo="b"' in t["expr"] and global_.name not in t["expr"]


def test_cluster_dashboards_lint_clean_and_match_their_golden_files(update_golden: bool) -> None:
    for d in (sd.overview(c.SLOS), sd.detail(c.SLOS)):
        data = g.render(d)
        assert lint.lint_bundle([data], _recorded(c.SLOS)) == []
        path = GOLDEN / f"{d.uid}-clusters.json"
        if update_golden:
            path.parent.mkdir(exist_ok=True)
            path.write_text(g.to_json(data))
        assert path.read_text() == g.to_json(data), f"{path} differs: pytest --update-golden"


def test_cluster_golden_dashboards_are_schema_valid() -> None:
    result = schema_check.validate(sorted(GOLDEN.glob("*.json")))
    assert result.ok, result.output
