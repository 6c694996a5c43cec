"""Small dashboards for the tests: one valid baseline the mutations start from."""

from __future__ import annotations

import copy
from typing import Any

from rulegen import grafana as g

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
