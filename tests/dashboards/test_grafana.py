"""The typed dashboard model renders the JSON Grafana's file provisioning expects."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rulegen import grafana as g
from tests.dashboards.helpers import CLUSTER, sample_dashboard


def _panels(d: dict) -> list[dict]:
    return [p for p in d["panels"] if p["type"] != "row"]


def test_dashboard_essentials() -> None:
    d = g.render(sample_dashboard())
    assert d["editable"] is False
    assert d["schemaVersion"] == g.DEFAULT_SCHEMA_VERSION == 39
    assert d["uid"] == "sample"
    ds, cluster = d["templating"]["list"]
    assert ds == {
        **ds,
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
    }
    assert cluster["type"] == "query"
    assert (cluster["refresh"], cluster["multi"], cluster["includeAll"], cluster["allValue"]) == (
        2,
        True,
        True,
        ".+",
    )
    assert cluster["query"]["query"] == "label_values(idp_workflows, cluster)"
    assert cluster["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_variables_offering_all_open_on_all_and_the_others_let_grafana_choose() -> None:
    single = g.Variable("slo", "SLO", "slo:objective:ratio", "slo", multi=False, include_all=False)
    one_of_all = g.Variable("env", "Env", "up", "env", multi=False)
    d = g.render(sample_dashboard(variables=(CLUSTER, single, one_of_all)))
    ds, cluster, slo, env = (v["current"] for v in d["templating"]["list"])
    # An empty choice matches no option: Grafana picks the default data source / first value.
    assert ds == slo == {"selected": False, "text": "", "value": ""}
    assert cluster == {"selected": True, "text": ["All"], "value": ["$__all"]}
    assert env == {"selected": True, "text": "All", "value": "$__all"}


def test_links_say_where_they_go() -> None:
    [link] = g.render(sample_dashboard(links=("slo-detail",)))["links"]
    assert (link["url"], link["tooltip"]) == (
        "/d/slo-detail",
        "Open slo-detail with this time range and these variables",
    )


def test_schema_version_is_configurable() -> None:
    assert g.render(sample_dashboard(schema_version=41))["schemaVersion"] == 41


def test_every_panel_and_target_uses_the_datasource_variable() -> None:
    for p in _panels(g.render(sample_dashboard())):
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_unit_description_and_thresholds_with_null_first_step() -> None:
    for p in _panels(g.render(sample_dashboard())):
        defaults = p["fieldConfig"]["defaults"]
        assert defaults["unit"] and p["description"]
        assert defaults["thresholds"]["steps"][0]["value"] is None


def test_single_value_panels_use_instant_queries_and_time_series_range_queries() -> None:
    by_type = {p["type"]: p["targets"][0] for p in _panels(g.render(sample_dashboard()))}
    assert by_type["stat"]["instant"] is True and by_type["stat"]["range"] is False
    assert by_type["gauge"]["instant"] is True
    assert by_type["timeseries"]["instant"] is False and by_type["timeseries"]["range"] is True


def test_row_packing_layout() -> None:
    d = g.render(sample_dashboard())
    grid = [(p["type"], p["gridPos"]) for p in d["panels"]]
    assert grid == [
        ("row", {"h": 1, "w": 24, "x": 0, "y": 0}),
        ("stat", {"h": 4, "w": 6, "x": 0, "y": 1}),
        ("timeseries", {"h": 8, "w": 18, "x": 6, "y": 1}),
        # wraps below the tallest panel of the previous line
        ("gauge", {"h": 8, "w": 8, "x": 0, "y": 9}),
    ]
    assert [p["id"] for p in d["panels"]] == [1, 2, 3, 4]


def test_table_columns_and_sorting() -> None:
    panel = g.Panel(
        "SLOs",
        "table",
        "percentunit",
        "All SLOs.",
        (
            g.Target("slo:objective:ratio", column="Objective"),
            g.Target("slo:error_budget:ratio", column="Budget", unit="short"),
        ),
        sort_by="Budget",
    )
    d = g.render(g.Dashboard("t", "T", (g.Row("r", (panel,)),)))
    p = _panels(d)[0]
    assert p["options"]["sortBy"] == [{"desc": False, "displayName": "Budget"}]
    assert [t["format"] for t in p["targets"]] == ["table", "table"]
    assert p["transformations"] == [{"id": "merge", "options": {}}]
    names = {o["matcher"]["options"]: o["properties"] for o in p["fieldConfig"]["overrides"]}
    assert names["Value #A"] == [{"id": "displayName", "value": "Objective"}]
    assert names["Value #B"] == [
        {"id": "displayName", "value": "Budget"},
        {"id": "unit", "value": "short"},
    ]


def test_ref_ids_follow_grafanas_sequence() -> None:
    assert [g.ref_id(i) for i in (0, 1, 25, 26, 27, 51, 52)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
    ]


def test_json_is_byte_stable() -> None:
    a = g.to_json(g.render(sample_dashboard()))
    b = g.to_json(g.render(sample_dashboard()))
    assert a == b
    assert a.endswith("}\n")
    assert a == json.dumps(json.loads(a), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_panel_ids_include_nested_row_panels() -> None:
    nested = [{"id": 1, "panels": [{"id": 2}, {"id": 3}]}, {"id": 4}]
    assert g.panel_ids(nested) == [1, 2, 3, 4]


sizes = st.lists(st.tuples(st.integers(1, 30), st.integers(1, 12)), min_size=1, max_size=12)


@given(st.lists(sizes, min_size=1, max_size=4))
def test_any_layout_is_inside_the_grid_without_overlaps(rows: list[list[tuple[int, int]]]) -> None:
    dash = g.Dashboard(
        "p",
        "P",
        tuple(
            g.Row(
                f"r{i}",
                tuple(
                    g.Panel(f"p{i}.{j}", "stat", "short", "d", (g.Target("up"),), w, h)
                    for j, (w, h) in enumerate(r)
                ),
            )
            for i, r in enumerate(rows)
        ),
    )
    panels = g.render(dash)["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    boxes = [p["gridPos"] for p in panels]
    for i, a in enumerate(boxes):
        assert (
            a["h"] > 0
            and 0 < a["w"] <= 24
            and a["x"] >= 0
            and a["x"] + a["w"] <= 24
            and a["y"] >= 0
        )
        for b in boxes[i + 1 :]:
            overlap = (
                a["x"] < b["x"] + b["w"]
                and b["x"] < a["x"] + a["w"]
                and a["y"] < b["y"] + b["h"]
                and b["y"] < a["y"] + a["h"]
            )
            assert not overlap, (a, b)
