"""Shared by the dashboard tests: a valid sample dashboard, the SLO dashboards' panels, tool runs."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from devstack.servers import require_binary
from rulegen import grafana as g

# The generated SLO dashboards' panels, in order (rows left out).
SLO_OVERVIEW_PANELS = [
    "SLOs",
    "SLOs out of budget",
    "Firing SLO alerts",
    "SLOs by budget remaining",
    "Error budget remaining",
]
SLO_DETAIL_PANELS = [
    "Objective",
    "SLI over the period",
    "Error budget remaining",
    "Firing alerts",
    "SLI vs objective",
    "Error budget remaining",
    "Burn rate per alert window",
    "Event and error rates",
    "Alert state",
    "Alerts over time",
]

# With cluster-labelled base recordings (split mode), the per-cluster panels join them.
CLUSTER_PANELS = ["Error ratio per cluster", "Burn rate per cluster", "Events per cluster"]
_BURN_AT = SLO_DETAIL_PANELS.index("Burn rate per alert window") + 1
SLO_DETAIL_PANELS_BY_CLUSTER = [
    *SLO_DETAIL_PANELS[:_BURN_AT],
    *CLUSTER_PANELS,
    *SLO_DETAIL_PANELS[_BURN_AT:],
]
SLO_OVERVIEW_PANELS_BY_CLUSTER = [*SLO_OVERVIEW_PANELS, "SLOs per cluster"]

CLUSTER = g.Variable("cluster", "Cluster", "idp_workflows", "cluster")


def sample_dashboard(**overrides: Any) -> g.Dashboard:
    rows = (
        g.Row(
            "Deployments",
            (
                g.Panel(
                    "Deployments (24h)",
                    "stat",
                    "short",
                    "Deployments finished in the last 24 hours.",
                    (g.Target('sum(increase(idp_deployments_total{cluster=~"$cluster"}[24h]))'),),
                    width=6,
                    height=4,
                ),
                g.Panel(
                    "Deployment rate",
                    "timeseries",
                    "reqps",
                    "Deployments per second by result.",
                    (
                        g.Target(
                            'sum by (result) (rate(idp_deployments_total{cluster=~"$cluster"}[$__rate_interval]))',
                            "{{result}}",
                        ),
                    ),
                    width=18,
                    steps=(g.Step("green"), g.Step("red", 1.0)),
                ),
                g.Panel(
                    "Queued workflows",
                    "gauge",
                    "short",
                    "Workflows waiting to start.",
                    (g.Target('sum(idp_workflows{phase="Pending", cluster=~"$cluster"})'),),
                ),
            ),
        ),
    )
    fields: dict[str, Any] = {
        "uid": "sample",
        "title": "Sample",
        "rows": rows,
        "tags": ("idp",),
        "variables": (CLUSTER,),
    }
    fields.update(overrides)
    return g.Dashboard(**fields)


def sample_json() -> dict[str, Any]:
    return copy.deepcopy(g.render(sample_dashboard()))


def run_tool(tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run amtool, kubectl or promtool (installed: the test fails if not), capturing text."""
    cmd = [require_binary(tool), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def promtool_check_groups(groups: list[Any], directory: Path) -> None:
    """`promtool check rules` accepts these rule groups (as a PrometheusRule holds them)."""
    rules = directory / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    run = run_tool("promtool", "check", "rules", str(rules), timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
