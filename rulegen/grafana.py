"""A small typed model of the classic Grafana dashboard JSON, and its byte-stable rendering.

Why our own model and not grafana-foundation-sdk: we emit five panel types and a handful
of fields, the SDK does no validation anyway, its 10.1 epoch crashes on its own output and
its version numbers are a trap (an unpinned install picks the Grafana 10.1 build). A few frozen dataclasses keep every
field we rely on visible, typed and covered by golden files.

Everything here is pure: `render()` returns plain dicts/lists, `to_json()` a string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# Grafana migrates older versions on load; 39 is understood by Grafana 10.x and 11.x.
DEFAULT_SCHEMA_VERSION = 39
GRID_WIDTH = 24
MAX_UID_LENGTH = 40

DATASOURCE_VARIABLE = "datasource"
# Every panel and target points at the templated datasource, never a fixed uid:
# exported `${DS_...}` inputs are not resolved by file provisioning (grafana#10786).
DATASOURCE_REF: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}

PanelType = Literal["stat", "timeseries", "gauge", "table", "bargauge"]
PANEL_TYPES: tuple[str, ...] = ("stat", "timeseries", "gauge", "table", "bargauge")

# Panels whose value is one number per series: their targets are instant queries.
SINGLE_VALUE_TYPES = frozenset({"stat", "gauge", "bargauge", "table"})

JSON = dict[str, Any]


@dataclass(frozen=True)
class Step:
    """A threshold step; the first step of a panel must have value None (minus infinity)."""

    color: str
    value: float | None = None


DEFAULT_STEPS: tuple[Step, ...] = (Step("green"),)


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""
    # Table column title for this target's value (tables only).
    column: str = ""
    # Unit of this target's column when it differs from the panel's (tables only).
    unit: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    type: PanelType
    unit: str
    description: str
    targets: tuple[Target, ...]
    width: int = 8
    height: int = 8
    steps: tuple[Step, ...] = DEFAULT_STEPS
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    # Draw threshold steps as lines on a time series (burn-rate tiers, objectives).
    threshold_lines: bool = False
    # Table: sort by this column title, ascending unless sort_desc.
    sort_by: str = ""
    sort_desc: bool = False


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Variable:
    """A Prometheus query variable: `label_values(<metric>, <label>)`."""

    name: str
    label: str
    metric: str
    label_name: str
    multi: bool = True
    include_all: bool = True

    @property
    def query(self) -> str:
        return f"label_values({self.metric}, {self.label_name})"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = ()
    description: str = ""
    variables: tuple[Variable, ...] = ()
    time_from: str = "now-24h"
    refresh: str = "1m"
    schema_version: int = DEFAULT_SCHEMA_VERSION
    links: tuple[str, ...] = field(default=())  # uids of dashboards to link to


def render(d: Dashboard) -> JSON:
    """The dashboard as Grafana's classic JSON model (a plain dict)."""
    return {
        "annotations": {"list": []},
        "description": d.description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": [_link(uid) for uid in d.links],
        "panels": _layout(d.rows),
        "refresh": d.refresh,
        "schemaVersion": d.schema_version,
        "tags": list(d.tags),
        "templating": {"list": [_datasource_variable(), *(_variable(v) for v in d.variables)]},
        "time": {"from": d.time_from, "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": d.title,
        "uid": d.uid,
        "version": 1,
    }


def to_json(obj: Any) -> str:
    """Byte-stable JSON: sorted keys, fixed indent, trailing newline."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _link(uid: str) -> JSON:
    # A dashboards link by tag would be looser; a uid link cannot break on renames.
    return {
        "asDropdown": False,
        "icon": "dashboard",
        "includeVars": True,
        "keepTime": True,
        "tags": [],
        "targetBlank": False,
        "title": uid,
        # Grafana's dashboard schema requires a tooltip on every link.
        "tooltip": f"Open {uid} with this time range and these variables",
        "type": "link",
        "url": f"/d/{uid}",
    }


# Grafana's dashboard schema requires `text` and `value` on a variable's current choice.
# An empty choice matches no option, so Grafana picks one when the dashboard loads: the
# default data source, or a query variable's first value.
_NOTHING_CHOSEN: JSON = {"selected": False, "text": "", "value": ""}
ALL_VALUE = "$__all"


def _initial_choice(v: Variable) -> JSON:
    """A variable offering "All" opens on it, so the dashboard first shows everything."""
    if not v.include_all:
        return dict(_NOTHING_CHOSEN)
    text: str | list[str] = ["All"] if v.multi else "All"
    value: str | list[str] = [ALL_VALUE] if v.multi else ALL_VALUE
    return {"selected": True, "text": text, "value": value}


def _datasource_variable() -> JSON:
    # Name and label exactly as dashboard-linter's template-datasource rule wants them.
    return {
        "current": dict(_NOTHING_CHOSEN),
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": DATASOURCE_VARIABLE,
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def _variable(v: Variable) -> JSON:
    return {
        "allValue": ".+",
        "current": _initial_choice(v),
        "datasource": dict(DATASOURCE_REF),
        "definition": v.query,
        "hide": 0,
        "includeAll": v.include_all,
        "label": v.label,
        "multi": v.multi,
        "name": v.name,
        "options": [],
        "query": {"query": v.query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        # 2 = on time range change: values follow the selected range (linter rule).
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


def _layout(rows: Sequence[Row]) -> list[JSON]:
    """Row-packing on the 24-column grid; ids are sequential, rows included."""
    out: list[JSON] = []
    y = 0
    next_id = 1
    for row in rows:
        out.append(_row(row, next_id, y))
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for p in row.panels:
            w = min(max(p.width, 1), GRID_WIDTH)
            if x + w > GRID_WIDTH:
                y += line_height
                x, line_height = 0, 0
            out.append(_panel(p, next_id, {"h": p.height, "w": w, "x": x, "y": y}))
            next_id += 1
            x += w
            line_height = max(line_height, p.height)
        y += line_height
    return out


def _row(row: Row, panel_id: int, y: int) -> JSON:
    return {
        "collapsed": False,
        "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y},
        "id": panel_id,
        "panels": [],
        "title": row.title,
        "type": "row",
    }


def _panel(p: Panel, panel_id: int, grid: JSON) -> JSON:
    defaults: JSON = {
        "color": {"mode": "thresholds" if p.type != "timeseries" else "palette-classic"},
        "mappings": [],
        "thresholds": {"mode": "absolute", "steps": [_step(s) for s in p.steps]},
        "unit": p.unit,
    }
    for key, value in (("min", p.min), ("max", p.max), ("decimals", p.decimals)):
        if value is not None:
            defaults[key] = value
    if p.type == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 10,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "thresholdsStyle": {"mode": "line" if p.threshold_lines else "off"},
        }
    instant = p.type in SINGLE_VALUE_TYPES
    return {
        "datasource": dict(DATASOURCE_REF),
        "description": p.description,
        "fieldConfig": {"defaults": defaults, "overrides": _overrides(p)},
        "gridPos": grid,
        "id": panel_id,
        "options": _options(p),
        "targets": [_target(t, i, instant, p.type == "table") for i, t in enumerate(p.targets)],
        "title": p.title,
        "transformations": [{"id": "merge", "options": {}}] if p.type == "table" else [],
        "type": p.type,
    }


def _step(s: Step) -> JSON:
    return {"color": s.color, "value": s.value}


def ref_id(index: int) -> str:
    """A, B, ... Z, AA, AB, ...: Grafana's own refId sequence."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _target(t: Target, index: int, instant: bool, table: bool) -> JSON:
    return {
        "datasource": dict(DATASOURCE_REF),
        "editorMode": "code",
        "expr": t.expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": t.legend or "__auto",
        "range": not instant,
        "refId": ref_id(index),
    }


def _overrides(p: Panel) -> list[JSON]:
    if p.type != "table":
        return []
    out: list[JSON] = [
        # Label columns carry no unit; hiding Time keeps the table about values.
        {"matcher": {"id": "byName", "options": "Time"}, "properties": [_hide()]},
    ]
    for i, t in enumerate(p.targets):
        props: list[JSON] = []
        if t.column:
            props.append({"id": "displayName", "value": t.column})
        if t.unit:
            props.append({"id": "unit", "value": t.unit})
        if props:
            out.append(
                {"matcher": {"id": "byName", "options": f"Value #{ref_id(i)}"}, "properties": props}
            )
    return out


def _hide() -> JSON:
    return {"id": "custom.hidden", "value": True}


def _reduce() -> JSON:
    return {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _options(p: Panel) -> JSON:
    if p.type == "timeseries":
        return {
            "legend": {
                "calcs": ["lastNotNull", "max"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if p.type == "stat":
        return {
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": _reduce(),
            "textMode": "auto",
        }
    if p.type == "gauge":
        return {
            "reduceOptions": _reduce(),
            "showThresholdLabels": False,
            "showThresholdMarkers": True,
        }
    if p.type == "bargauge":
        return {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": _reduce(),
            "showUnfilled": True,
        }
    return {
        "cellHeight": "sm",
        "showHeader": True,
        "sortBy": [{"desc": p.sort_desc, "displayName": p.sort_by}] if p.sort_by else [],
    }


def panel_ids(panels: Iterable[JSON]) -> list[int]:
    """Ids of panels, including panels nested in collapsed rows."""
    ids: list[int] = []
    for p in panels:
        ids.append(int(p["id"]))
        ids.extend(panel_ids(p.get("panels", [])))
    return ids
