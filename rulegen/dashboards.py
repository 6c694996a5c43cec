"""Pure: the spec's hand-designed `dashboards:` -> the typed Grafana model.

Layout is not in the spec: panels get a width by type and are row-packed by grafana.py,
so authors describe what to show, never where.
"""

from __future__ import annotations

from collections.abc import Sequence

import promql_parser as pp

from rulegen import grafana as g
from rulegen import lint
from rulegen import spec as s

FOLDER = "IDP"

# Single numbers are small, time series and bar lists need room, tables the full width.
WIDTH: dict[str, int] = {"stat": 6, "gauge": 6, "bargauge": 12, "timeseries": 12, "table": 24}
HEIGHT: dict[str, int] = {"stat": 4, "gauge": 6, "bargauge": 8, "timeseries": 8, "table": 8}


def from_spec(d: s.Dashboard, schema_version: int = g.DEFAULT_SCHEMA_VERSION) -> g.Dashboard:
    exprs = [q.expr for row in d.rows for p in row.panels for q in p.queries]
    return g.Dashboard(
        uid=d.uid,
        title=d.title,
        tags=tuple(d.tags),
        rows=tuple(g.Row(row.title, tuple(_panel(p) for p in row.panels)) for row in d.rows),
        variables=tuple(_variable(label, exprs) for label in d.variables),
        schema_version=schema_version,
    )


def _panel(p: s.Panel) -> g.Panel:
    # Missing unit/description are left empty for the lint to report, with their location.
    return g.Panel(
        title=p.title,
        type=p.type,
        unit=p.unit or "",
        description=p.description or "",
        targets=tuple(g.Target(q.expr, q.legend or "") for q in p.queries),
        width=WIDTH[p.type],
        height=HEIGHT[p.type],
    )


def _variable(label: str, exprs: Sequence[str]) -> g.Variable:
    """A label variable listing the values of the first metric the panels filter with it.

    Listing values from the very series the panels read means every choice shows data,
    and the query stays cheap (one metric, not every series in the TSDB).
    """
    metric = variable_metric(label, exprs) or "up"
    return g.Variable(label, label.replace("_", " ").capitalize(), metric, label)


def variable_metric(label: str, exprs: Sequence[str]) -> str | None:
    stand_in = lint.variable_stand_in(label)
    for expr in exprs:
        text, _ = lint.expand_variables(expr, [label])
        try:
            node = pp.parse(text)
        except ValueError:
            continue  # reported by the lint, with its location
        for sel in lint.selectors(node):
            if sel.name and any(stand_in in m.value for m in sel.matchers.matchers):
                return str(sel.name)
    return None
