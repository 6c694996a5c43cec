"""Pure: lint findings on the rendered bundle -> spec errors located in the spec.

The lint reads what was generated (a panel id, a rule of a group); authors read the spec.
Each finding is traced back to the spec path it comes from (such as
`dashboards[0].rows[1].panels[2].queries[0].expr`), so the CLI reports it as
FILE:LINE:COL like every other spec error.
"""

from __future__ import annotations

from collections.abc import Iterable

from common.issues import Issue, JsonPath, json_path
from rulegen import lint, naming, spec
from rulegen.model import Model


def issues(model: Model, findings: Iterable[lint.Finding]) -> list[Issue]:
    """Findings as spec errors: FILE:LINE:COL: path: [where] rule: message."""
    out = []
    for f in findings:
        path = spec_path(model, f)
        line, col = model.doc.position(path) if model.doc is not None else (1, 1)
        out.append(Issue(line, col, json_path(path), f"{f.location}: {f.rule}: {f.message}"))
    return out


def spec_path(model: Model, f: lint.Finding) -> JsonPath:
    """The spec path a finding comes from (as close as the finding allows)."""
    w = f.location
    if w.group:
        return _rule_path(model, w)
    index = next((i for i, d in enumerate(model.dashboards) if d.uid == w.uid), None)
    if index is None:
        # A generated SLO dashboard reads what the SLOs record: point at them.
        return ("slos",)
    return ("dashboards", index, *_in_dashboard(model.dashboards[index], f))


def _in_dashboard(d: spec.Dashboard, f: lint.Finding) -> JsonPath:
    """The path of a finding inside the spec's dashboard it comes from."""
    w = f.location
    if w.variable:
        names = list(d.variables)
        return ("variables", names.index(w.variable)) if w.variable in names else ()
    if w.panel_id < 0:
        return ("uid",) if f.rule.startswith("dashboard-") else ()
    panel = _panel_path(d, w.panel_id)
    if panel is None:
        return ()
    if w.target >= 0:
        return (*panel, "queries", w.target, "expr")
    if f.rule == "panel-units-rule":
        return (*panel, "unit")
    return panel


def _panel_path(d: spec.Dashboard, panel_id: int) -> JsonPath | None:
    """Panel ids follow grafana._layout: each row, then its panels, numbered from 1."""
    next_id = 1
    for r, row in enumerate(d.rows):
        if next_id == panel_id:
            return ("rows", r)
        next_id += 1
        for p in range(len(row.panels)):
            if next_id == panel_id:
                return ("rows", r, "panels", p)
            next_id += 1
    return None


def _rule_path(model: Model, w: lint.Where) -> JsonPath:
    for i, a in enumerate(model.alerts):
        if a.name == w.rule_name:
            return ("alerts", i, "expr")
    path = group_path(model, w.group)
    return (*path, "sli") if path[:1] == ("slos",) else path


def group_path(model: Model, group: str) -> JsonPath:
    """The spec path a rule group comes from: its SLO, or the threshold alerts."""
    for i, s in enumerate(model.slos):
        if group in (*naming.slo_groups(s.name), naming.base_group(s.name)):
            return ("slos", i)
    if group == naming.clusters_group(model.name):
        return ("topology", "clusters")
    return ("alerts",) if model.alerts else ()
