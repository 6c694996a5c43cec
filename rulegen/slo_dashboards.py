"""Pure: SLOs -> the generated SLO overview and detail dashboards.

They read only the recording rules of CONTRACT §4 plus the event-rate rules the generator
records anyway (naming.error_events/total_events), so they need no extra rules (unlike
Pyrra's `--generic-rules`) and work with `group_by` (one line or row per group).

Window names in rule names differ per SLO period, so a query that must read "the period
ratio" or "the 1h ratio" is built per distinct window and restricted to the SLOs that have
it; when every SLO shares it, the restriction is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rulegen import grafana as g
from rulegen import naming
from rulegen.durations import format_seconds

OVERVIEW_UID = "slo-overview"
DETAIL_UID = "slo-detail"
FOLDER = "SLOs"
TAGS = ("slo", "generated")

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class TierView:
    name: str
    alert: str  # page | ticket
    severity: str
    long_window: int  # seconds
    short_window: int
    factor: float


@dataclass(frozen=True)
class SloView:
    """What the dashboards need to know about one SLO (built from the validated model)."""

    name: str
    service: str
    objective: float  # ratio, e.g. 0.995
    period: int  # seconds
    base_window: int  # seconds; the window of the recorded event rates
    group_by: tuple[str, ...] = ()
    tiers: tuple[TierView, ...] = ()


def _groups(slos: Sequence[SloView], key: Callable[[SloView], K]) -> list[tuple[K, list[str]]]:
    """SLO names by key value, in order of first appearance (specs are ordered)."""
    out: dict[K, list[str]] = {}
    for s in slos:
        out.setdefault(key(s), []).append(s.name)
    return list(out.items())


def _sel(metric: str, slo_matcher: str, names: Sequence[str], every: Sequence[str]) -> str:
    """`metric{<slo matcher>, slo=~"a|b"}`; the restriction only when it restricts."""
    matchers = [m for m in (slo_matcher,) if m]
    if sorted(names) != sorted(every):
        # SLO names are [a-z0-9-]: safe inside a regex without escaping.
        matchers.append(f'slo=~"{"|".join(names)}"')
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def _period_ratio(slos: Sequence[SloView], slo_matcher: str) -> str:
    every = [s.name for s in slos]
    parts = [
        _sel(naming.sli_error_ratio(period), slo_matcher, names, every)
        for period, names in _groups(slos, lambda s: s.period)
    ]
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _legend(slos: Sequence[SloView], prefix: str) -> str:
    labels = sorted({label for s in slos for label in s.group_by})
    return " ".join([prefix, *(f"{{{{{label}}}}}" for label in labels)]).strip()


def _strip_name(expr: str) -> str:
    # Aggregating `without ()` keeps every label but __name__, so table rows of different
    # rules share their label columns and merge into one row per SLO (and group).
    return f"max without () ({expr})"


# ----------------------------------------------------------------------------- overview


def overview(
    slos: Sequence[SloView], schema_version: int = g.DEFAULT_SCHEMA_VERSION
) -> g.Dashboard:
    ratio = _period_ratio(slos, "")
    objective_by_slo = f"max by ({naming.LABEL_SLO}) ({naming.OBJECTIVE})"
    # SLOs without any traffic yet still get a row: their objective alone.
    objective = (
        f"{ratio} * 0 + on(slo) group_left() {objective_by_slo}"
        f" or on(slo) max by (slo, service) ({naming.OBJECTIVE})"
    )
    firing = 'count by (slo) (ALERTS{alertstate="firing",slo!=""})'
    alerts = f"{ratio} * 0 + on(slo) group_left() {firing} or on(slo) {ratio} * 0"
    table = g.Panel(
        "SLOs by budget remaining",
        "table",
        "percentunit",
        "Every SLO (one row per group for grouped SLOs): objective, SLI over its period, "
        "error budget left (below 0 = overspent) and alerts firing now. Worst first.",
        (
            g.Target(objective, column="Objective"),
            g.Target(f"1 - {_strip_name(ratio)}", column="SLI (period)"),
            g.Target(_strip_name(naming.ERROR_BUDGET_REMAINING), column="Budget remaining"),
            g.Target(alerts, column="Firing alerts", unit="none"),
        ),
        width=24,
        height=10,
        sort_by="Budget remaining",
        steps=(g.Step("red"), g.Step("orange", 0.0), g.Step("green", 0.25)),
    )
    stats = (
        g.Panel(
            "SLOs",
            "stat",
            "none",
            "Number of SLOs with recorded objectives.",
            (g.Target(f"count(count by (slo) ({naming.OBJECTIVE}))"),),
            width=8,
            height=4,
        ),
        g.Panel(
            "SLOs out of budget",
            "stat",
            "none",
            "SLOs (or groups) whose error budget for the period is spent.",
            (g.Target(f"count({naming.ERROR_BUDGET_REMAINING} < 0) or vector(0)"),),
            width=8,
            height=4,
            steps=(g.Step("green"), g.Step("red", 1.0)),
        ),
        g.Panel(
            "Firing SLO alerts",
            "stat",
            "none",
            "Burn-rate and absent-data alerts firing now.",
            (g.Target('count(ALERTS{alertstate="firing",slo!=""}) or vector(0)'),),
            width=8,
            height=4,
            steps=(g.Step("green"), g.Step("red", 1.0)),
        ),
    )
    budget = g.Panel(
        "Error budget remaining",
        "timeseries",
        "percentunit",
        "Share of each SLO's error budget left over its rolling period.",
        (g.Target(naming.ERROR_BUDGET_REMAINING, _legend(slos, "{{slo}}")),),
        width=24,
        steps=(g.Step("red"), g.Step("green", 0.0)),
        threshold_lines=True,
    )
    return g.Dashboard(
        uid=OVERVIEW_UID,
        title="SLO overview",
        description="Generated by idp-rulegen from slo.yaml: every SLO and its error budget.",
        rows=(g.Row("SLOs", (*stats, table)), g.Row("Error budget", (budget,))),
        tags=TAGS,
        links=(DETAIL_UID,),
        time_from="now-7d",
        schema_version=schema_version,
    )


# ----------------------------------------------------------------------------- detail

SLO_VAR = g.Variable(
    "slo", "SLO", naming.OBJECTIVE, naming.LABEL_SLO, multi=False, include_all=False
)
_SLO = 'slo="$slo"'


def _only(slo_subset: Sequence[str], every: Sequence[str]) -> str:
    """A series that exists only while the selected SLO is one of slo_subset (value 0)."""
    return f"max({_sel(naming.OBJECTIVE, _SLO, slo_subset, every)}) * 0"


def detail(slos: Sequence[SloView], schema_version: int = g.DEFAULT_SCHEMA_VERSION) -> g.Dashboard:
    every = [s.name for s in slos]
    ratio = _period_ratio(slos, _SLO)
    stats = (
        g.Panel(
            "Objective",
            "stat",
            "percentunit",
            "Target share of good events over the period.",
            (g.Target(f"max({naming.OBJECTIVE}{{{_SLO}}})"),),
            width=6,
            height=4,
            decimals=2,
        ),
        g.Panel(
            "SLI over the period",
            "stat",
            "percentunit",
            "Share of good events over the SLO period (traffic-weighted), per group.",
            (g.Target(f"1 - {ratio}", _legend(slos, "")),),
            width=6,
            height=4,
            decimals=3,
        ),
        g.Panel(
            "Error budget remaining",
            "stat",
            "percentunit",
            "1 - period error ratio / error budget; below 0 the budget is overspent.",
            (g.Target(f"{naming.ERROR_BUDGET_REMAINING}{{{_SLO}}}", _legend(slos, "")),),
            width=6,
            height=4,
            steps=(g.Step("red"), g.Step("orange", 0.0), g.Step("green", 0.25)),
        ),
        g.Panel(
            "Firing alerts",
            "stat",
            "none",
            "Alerts of this SLO firing now.",
            (g.Target(f'count(ALERTS{{{_SLO},alertstate="firing"}}) or vector(0)'),),
            width=6,
            height=4,
            steps=(g.Step("green"), g.Step("red", 1.0)),
        ),
    )
    sli = g.Panel(
        "SLI vs objective",
        "timeseries",
        "percentunit",
        "Share of good events over the shortest alert window and over the period, "
        "against the objective.",
        (
            *_sli_targets(slos, every),
            g.Target(f"1 - {ratio}", _legend(slos, "SLI (period)")),
            g.Target(f"max({naming.OBJECTIVE}{{{_SLO}}})", "objective"),
        ),
        width=24,
    )
    budget = g.Panel(
        "Error budget remaining",
        "timeseries",
        "percentunit",
        "Budget left over the rolling period. The ideal burn-down spends the budget evenly: "
        "it starts full at the left edge of the time range and reaches 0 after one period.",
        (
            g.Target(f"{naming.ERROR_BUDGET_REMAINING}{{{_SLO}}}", _legend(slos, "remaining")),
            *(
                g.Target(
                    f"{_only(names, every)} + (1 - (time() - $__from / 1000) / {period})",
                    f"ideal burn-down ({format_seconds(period)})",
                )
                for period, names in _groups(slos, lambda s: s.period)
            ),
        ),
        width=24,
        steps=(g.Step("red"), g.Step("green", 0.0)),
        threshold_lines=True,
    )
    burn = g.Panel(
        "Burn rate per alert window",
        "timeseries",
        "short",
        "Error ratio / error budget for each alert window; 1 spends the budget exactly over "
        "the period. A tier fires when both its long and short window exceed its factor.",
        (*_burn_targets(slos, every), *_threshold_targets(slos, every)),
        width=24,
        height=10,
        min=0,
    )
    events = g.Panel(
        "Event and error rates",
        "timeseries",
        "reqps",
        "Events and failed events per second (probes: probe results), from the base-window "
        "recordings the period ratio is built from.",
        tuple(
            t
            for window, names in _groups(slos, lambda s: s.base_window)
            for t in (
                g.Target(
                    _sel(naming.total_events(window), _SLO, names, every), _legend(slos, "events")
                ),
                g.Target(
                    _sel(naming.error_events(window), _SLO, names, every), _legend(slos, "errors")
                ),
            )
        ),
        width=24,
    )
    alert_table = g.Panel(
        "Alert state",
        "table",
        "none",
        "Pending and firing alerts of this SLO, with the windows that triggered them.",
        (g.Target(f"ALERTS{{{_SLO}}}", column="Active"),),
        width=24,
        height=6,
    )
    alert_history = g.Panel(
        "Alerts over time",
        "timeseries",
        "none",
        "Firing alerts of this SLO by alert, severity and window.",
        (
            g.Target(
                f'count by (alertname, severity, long_window) (ALERTS{{{_SLO},alertstate="firing"}})',
                "{{alertname}} {{severity}} {{long_window}}",
            ),
        ),
        width=24,
        height=6,
    )
    return g.Dashboard(
        uid=DETAIL_UID,
        title="SLO detail",
        description="Generated by idp-rulegen from slo.yaml: one SLO, its budget and burn rates.",
        rows=(
            g.Row("Summary", stats),
            g.Row("SLI", (sli,)),
            g.Row("Error budget", (budget,)),
            # No SLO with a burn tier (all alerts disabled): no burn rates to draw.
            *((g.Row("Burn rate", (burn,)),) if burn.targets else ()),
            g.Row("Events", (events,)),
            g.Row("Alerts", (alert_table, alert_history)),
        ),
        tags=TAGS,
        variables=(SLO_VAR,),
        links=(OVERVIEW_UID,),
        time_from="now-7d",
        schema_version=schema_version,
    )


def _sli_targets(slos: Sequence[SloView], every: Sequence[str]) -> list[g.Target]:
    def shortest(s: SloView) -> int | None:
        return min((t.long_window for t in s.tiers), default=None)

    out = []
    for window, names in _groups(slos, shortest):
        if window is None:
            continue  # no alert windows: only the period ratio is recorded
        metric = _sel(naming.sli_error_ratio(window), _SLO, names, every)
        out.append(g.Target(f"1 - {metric}", _legend(slos, f"SLI ({format_seconds(window)})")))
    return out


def _burn_targets(slos: Sequence[SloView], every: Sequence[str]) -> list[g.Target]:
    windows = sorted({w for s in slos for t in s.tiers for w in (t.short_window, t.long_window)})
    budget = f"max by (slo) ({naming.ERROR_BUDGET}{{{_SLO}}})"
    out = []
    for w in windows:
        names = [s.name for s in slos if any(w in (t.short_window, t.long_window) for t in s.tiers)]
        metric = _sel(naming.sli_error_ratio(w), _SLO, names, every)
        out.append(
            g.Target(f"{metric} / on(slo) group_left() {budget}", _legend(slos, format_seconds(w)))
        )
    return out


def _threshold_targets(slos: Sequence[SloView], every: Sequence[str]) -> list[g.Target]:
    def key(t: TierView) -> tuple[str, float, int, int]:
        return (t.alert, t.factor, t.long_window, t.short_window)

    out = []
    for (alert, factor, long, short), names in _groups_of_tiers(slos, key):
        legend = f"{alert} threshold x{factor:g} ({format_seconds(long)}/{format_seconds(short)})"
        out.append(g.Target(f"{_only(names, every)} + {factor:g}", legend))
    return out


def _groups_of_tiers(
    slos: Sequence[SloView], key: Callable[[TierView], K]
) -> list[tuple[K, list[str]]]:
    out: dict[K, list[str]] = {}
    for s in slos:
        for t in s.tiers:
            names = out.setdefault(key(t), [])
            if s.name not in names:
                names.append(s.name)
    return list(out.items())
