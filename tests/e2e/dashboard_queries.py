"""Every query of rendered dashboards against a live Prometheus, as Grafana would run
them: each label variable's choices expanded, Grafana's built-ins filled in."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from devstack.servers import PrometheusServer


def dashboard_queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every target of a rendered dashboard, rows included."""
    found = []
    panels = list(dash.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            found.append((panel.get("title", ""), target["expr"]))
    return found


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def variable_values(prometheus: PrometheusServer, dash: dict[str, Any]) -> dict[str, list[str]]:
    """What Grafana may substitute for each label variable: "All" (its allValue) when the
    variable offers it, else each value its label_values() query finds."""
    values = {}
    for var in dash.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        if var.get("includeAll") or var.get("multi"):
            values[var["name"]] = [var.get("allValue") or ".+"]
            continue
        m = LABEL_VALUES.match(var["query"]["query"])
        assert m, f"{dash['uid']}: variable {var['name']} is not a label_values() query"
        # A chained variable (slo after slo_spec) lists the values for every choice of the
        # variables before it, as Grafana re-queries it on each choice.
        selectors = {
            expand(m["selector"], dict(zip(values, combo, strict=True)))
            for combo in itertools.product(*values.values())
        }
        found: set[str] = set()
        for selector in sorted(selectors):
            resp = httpx.get(
                f"{prometheus.url}/api/v1/label/{m['label']}/values",
                params={"match[]": selector},
                timeout=10,
            ).json()
            found.update(resp["data"])
        assert found, f"{dash['uid']}: variable {var['name']} has no values"
        values[var["name"]] = sorted(found)
    return values


VARIABLE = re.compile(
    r"\$\{(?P<a>[A-Za-z_]\w*)(?::[^}]*)?\}|\[\[(?P<b>[A-Za-z_]\w*)(?::[^\]]*)?\]\]"
    r"|\$(?P<c>[A-Za-z_]\w*)"
)


def expand(expr: str, variables: dict[str, str]) -> str:
    """Expand Grafana variables as Grafana would: built-ins for a 1h view at 1s scrapes,
    label variables as `variable_values` chose them."""
    now_ms = int(time.time() * 1000)
    builtins = {
        "__rate_interval": "1m",
        "__interval": "15s",
        "__interval_ms": "15000",
        "__range": "1h",
        "__range_s": "3600",
        "__range_ms": "3600000",
        "__from": str(now_ms - 3_600_000),
        "__to": str(now_ms),
    }

    def sub(m: re.Match[str]) -> str:
        name = m.group("a") or m.group("b") or m.group("c")
        return builtins.get(name) or variables.get(name, ".+")

    return VARIABLE.sub(sub, expr)


def unanswered(
    prometheus: PrometheusServer,
    dashboards: Sequence[dict[str, Any]],
    exempt: Callable[[str], bool] = lambda expr: False,
) -> tuple[list[str], int]:
    """Our queries (on idp-exporter metrics or recording rules, not `exempt`) that return
    nothing for every choice of the variables, and how many queries ran. Each selection
    must execute; ours must return data for at least one of them (a per-SLO panel has
    data for the SLOs that have traffic)."""
    empty, executed = [], 0
    for dash in dashboards:
        choices = variable_values(prometheus, dash)
        selections = [
            dict(zip(choices, combo, strict=True)) for combo in itertools.product(*choices.values())
        ]
        for title, expr in dashboard_queries(dash):
            results = [prometheus.query(expand(expr, chosen)) for chosen in selections]
            executed += len(results)
            if re.search(r"\b(idp_\w+|slo:\w+)", expr) and not any(results) and not exempt(expr):
                empty.append(f"{dash['uid']} / {title}: {expr}")
    return empty, executed
