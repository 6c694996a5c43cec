"""Cluster-labelled SLO data for the dashboard tests: what a global Prometheus holds in split
mode (base recordings with the cluster Prometheus' external label; a global SLO's series
without it, a `scope: cluster` SLO's with it), one sample a minute for an hour.

SLO a (global, 5m base): us-west-1 is busy and clean for 30 minutes, then quiet and failing
every event, so its traffic-weighted error ratio over the hour is 300 / 3000 = 0.1 (the mean
of its ratios would be 0.5). SLO b (scope: cluster, 10m base) has two clusters.
"""

from __future__ import annotations

from common.durations import DAY, HOUR, MINUTE
from rulegen import slo_dashboards as sd

MINUTES = 60
RANGE = "59m"  # [0m, 59m]: every sample, evaluated at the last one

_TIERS = (sd.TierView("page-fast", "page", "critical", HOUR, 5 * MINUTE, 14.4),)
A = sd.SloView(
    "a", "s", 0.95, 30 * DAY, 5 * MINUTE, (), _TIERS, spec="platform", cluster_label="cluster"
)
B = sd.SloView(
    "b",
    "s",
    0.99,
    7 * DAY,
    10 * MINUTE,
    (),
    (),
    spec="platform",
    cluster_label="cluster",
    scope="cluster",
)
SLOS = (A, B)

HALF = MINUTES // 2


def _const(value: float) -> list[float]:
    return [value] * MINUTES


def _a(cluster: str) -> str:
    return f'slo_spec="platform",slo="a",service="s",cluster="{cluster}"'


def _b(cluster: str = "") -> str:
    return 'slo_spec="platform",slo="b",service="s"' + (f',cluster="{cluster}"' if cluster else "")


A_ALL = 'slo_spec="platform",slo="a",service="s"'

SERIES: dict[str, list[float]] = {
    f"slo:sli_total_events:rate5m{{{_a('us-east-1')}}}": _const(100),
    f"slo:sli_error_events:rate5m{{{_a('us-east-1')}}}": _const(1),
    f"slo:sli_total_events:rate5m{{{_a('us-west-1')}}}": [90.0] * HALF + [10.0] * HALF,
    f"slo:sli_error_events:rate5m{{{_a('us-west-1')}}}": [0.0] * HALF + [10.0] * HALF,
    f"slo:sli_total_events:rate5m{{{_a('eu-central-1')}}}": _const(50),
    f"slo:sli_error_events:rate5m{{{_a('eu-central-1')}}}": _const(0),
    f"slo:sli_total_events:rate10m{{{_b('us-east-1')}}}": _const(20),
    f"slo:sli_error_events:rate10m{{{_b('us-east-1')}}}": _const(2),
    f"slo:sli_total_events:rate10m{{{_b('us-west-1')}}}": _const(40),
    f"slo:sli_error_events:rate10m{{{_b('us-west-1')}}}": _const(0),
    # a is global: its SLO series carry no cluster label.
    f"slo:objective:ratio{{{A_ALL}}}": _const(0.95),
    f"slo:error_budget:ratio{{{A_ALL}}}": _const(0.05),
    f"slo:sli_error:ratio_rate30d{{{A_ALL}}}": _const(0.04),
    f"slo:sli_error:ratio_rate1h{{{A_ALL}}}": _const(0.05),
    f"slo:sli_error:ratio_rate5m{{{A_ALL}}}": _const(0.06),
    f"slo:error_budget_remaining:ratio{{{A_ALL}}}": _const(0.2),
    # b is per cluster: its ratios and budget left are split by cluster.
    f"slo:objective:ratio{{{_b()}}}": _const(0.99),
    f"slo:error_budget:ratio{{{_b()}}}": _const(0.01),
    f"slo:sli_error:ratio_rate1w{{{_b('us-east-1')}}}": _const(0.1),
    f"slo:sli_error:ratio_rate1w{{{_b('us-west-1')}}}": _const(0),
    f"slo:error_budget_remaining:ratio{{{_b('us-east-1')}}}": _const(-9),
    f"slo:error_budget_remaining:ratio{{{_b('us-west-1')}}}": _const(1),
    'ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo_spec="platform",slo="a",'
    'service="s",severity="critical",long_window="1h",short_window="5m"}': _const(1),
    'ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",slo_spec="platform",slo="b",'
    'service="s",cluster="us-east-1",severity="critical",long_window="1h",short_window="5m"}': _const(
        1
    ),
}


def openmetrics(end_s: int) -> str:
    """SERIES as OpenMetrics text, the last sample at end_s (for promtool's backfill)."""
    lines = []
    names = sorted({s.split("{")[0] for s in SERIES})
    for name in names:
        lines.append(f"# TYPE {name} gauge")
        for series, values in sorted(SERIES.items()):
            if series.split("{")[0] != name:
                continue
            start = end_s - (len(values) - 1) * 60
            lines += [f"{series} {v!r} {start + i * 60}" for i, v in enumerate(values)]
    return "\n".join(lines) + "\n# EOF\n"
