"""Pure: SLOs -> the generated SLO overview and detail dashboards.

They read only the public recording rules (objective, error budget, error ratio per window:
see naming.py) plus the event-rate rules the generator records anyway
(naming.error_events/total_events), so they need no extra rules (unlike Pyrra's
`--generic-rules`) and work with `group_by` (one line or row per group).

Window names in rule names differ per SLO period, so a query that must read "the period
ratio" or "the 1h ratio" is built per distinct window and restricted to the SLOs that have
it; when every SLO shares it, the restriction is left out.

An SLO is identified by its spec and its name (labels slo_spec and slo: two specs loaded into
one Prometheus may share SLO names), so every join and aggregation keeps both labels and the
detail dashboard selects the SLO by both variables.

Clusters (docs/dashboards.md): when an SLO's base event-rate recordings carry a cluster label
where the dashboards read them (split mode: the cluster Prometheus' external label; single
mode: a `scope: cluster` SLO), both dashboards gain a multi-select `cluster` variable and a
"Per cluster" row built from those recordings. Every other SLO selector then matches
`cluster=~"$cluster|"`: per-cluster SLO series follow the choice, global ones (no cluster
label: the empty value matches) always show. Without a cluster label anywhere the
dashboards are exactly what they were.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from common.durations import format_seconds
from rulegen import grafana as g
from rulegen import naming

OVERVIEW_UID = "slo-overview"
DETAIL_UID = "slo-detail"
FOLDER = "SLOs"
TAGS = ("slo", "generated")

K = TypeVar("K", bound=Hashable)

# `by (...)` / `on(...)` label list that keeps SLOs of different specs apart.
IDENTITY = f"{naming.LABEL_SLO_SPEC}, {naming.LABEL_SLO}"


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
    spec: str = field(kw_only=True)  # metadata.name: the slo_spec label
    # The label that tells clusters apart on this SLO's base event-rate recordings, as the
    # dashboards' Prometheus sees them; "" when they carry none (no per-cluster panels).
    cluster_label: str = field(default="", kw_only=True)
    # "cluster": the SLO's own series (ratios, budget, alerts) carry cluster_label too.
    scope: Literal["global", "cluster"] = field(default="global", kw_only=True)


def _groups(slos: Sequence[SloView], key: Callable[[SloView], K]) -> list[tuple[K, list[SloView]]]:
    """SLOs by key value, in order of first appearance (specs are ordered)."""
    out: dict[K, list[SloView]] = {}
    for s in slos:
        out.setdefault(key(s), []).append(s)
    return list(out.items())


def _one_of(label: str, values: Sequence[str]) -> str:
    # Spec and SLO names are [a-z0-9-]: safe inside a regex without escaping.
    unique = list(dict.fromkeys(values))
    return f'{label}="{unique[0]}"' if len(unique) == 1 else f'{label}=~"{"|".join(unique)}"'


def _sel(metric: str, slo_matcher: str, subset: Sequence[SloView], every: Sequence[SloView]) -> str:
    """`metric{<slo matcher>, slo_spec="s", slo=~"a|b"}`; the restriction only when it restricts."""
    matchers = [m for m in (slo_matcher,) if m]
    if {(s.spec, s.name) for s in subset} != {(s.spec, s.name) for s in every}:
        matchers.append(_one_of(naming.LABEL_SLO_SPEC, [s.spec for s in subset]))
        matchers.append(_one_of(naming.LABEL_SLO, [s.name for s in subset]))
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def _any(parts: Sequence[str]) -> str:
    """One expression per SLO subset (period, base window), joined with `or`."""
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def _period_ratio(slos: Sequence[SloView], slo_matcher: str) -> str:
    every = slos
    return _any(
        [
            _sel(naming.sli_error_ratio(period), slo_matcher, names, every)
            for period, names in _groups(slos, lambda s: s.period)
        ]
    )


def _legend(slos: Sequence[SloView], prefix: str) -> str:
    labels = sorted({label for s in slos for label in _series_labels(s)})
    return " ".join([prefix, *(f"{{{{{label}}}}}" for label in labels)]).strip()


def _series_labels(s: SloView) -> tuple[str, ...]:
    """Labels that split the SLO's own series into several lines."""
    return (s.cluster_label, *s.group_by) if s.scope == "cluster" else s.group_by


def _matchers(*matchers: str) -> str:
    """Matchers joined, the empty ones left out."""
    return ",".join(m for m in matchers if m)


def _m(metric: str, *matchers: str) -> str:
    """`metric{matchers}`, or the bare name when there are none."""
    joined = _matchers(*matchers)
    return f"{metric}{{{joined}}}" if joined else metric


def _strip_name(expr: str) -> str:
    # Aggregating `without ()` keeps every label but __name__, so table rows of different
    # rules share their label columns and merge into one row per SLO (and group).
    return f"max without () ({expr})"


# ----------------------------------------------------------------------------- overview


def overview(
    slos: Sequence[SloView], schema_version: int = g.DEFAULT_SCHEMA_VERSION
) -> g.Dashboard:
    """Every SLO on one page: counters, one table row per SLO (and group), budgets over time,
    and with clusters a table of every SLO in every cluster."""
    label = cluster_label(slos)
    c = _or_global(label)
    per_cluster = [g.Row("Per cluster", (_cluster_table(slos, label),))] if label else []
    return g.Dashboard(
        uid=OVERVIEW_UID,
        title="SLO overview",
        description="Generated by idp-rulegen from slo.yaml: every SLO and its error budget.",
        rows=(
            g.Row("SLOs", (*_counters(c), _budget_table(_period_ratio(slos, c), c))),
            g.Row("Error budget", (_budgets_over_time(slos, c),)),
            *per_cluster,
        ),
        tags=TAGS,
        variables=_cluster_variables(slos, label, ""),
        links=(DETAIL_UID,),
        time_from="now-7d",
        schema_version=schema_version,
    )


def _counter(title: str, description: str, expr: str, steps: tuple[g.Step, ...]) -> g.Panel:
    return g.Panel(
        title, "stat", "none", description, (g.Target(expr),), width=8, height=4, steps=steps
    )


_ANY_SLO = 'slo!=""'  # SLO alerts only, not the spec's threshold alerts
_FIRING = 'alertstate="firing"'


def _firing(*matchers: str) -> str:
    return _m("ALERTS", _FIRING, *matchers)


def _counters(c: str) -> tuple[g.Panel, ...]:
    """How many SLOs there are, how many are out of budget, how many alerts fire."""
    alarm = (g.Step("green"), g.Step("red", 1.0))
    return (
        _counter(
            "SLOs",
            "Number of SLOs with recorded objectives.",
            f"count(count by ({IDENTITY}) ({_m(naming.OBJECTIVE, c)}))",
            g.DEFAULT_STEPS,
        ),
        _counter(
            "SLOs out of budget",
            "SLOs (or groups) whose error budget for the period is spent.",
            f"count({_m(naming.ERROR_BUDGET_REMAINING, c)} < 0) or vector(0)",
            alarm,
        ),
        _counter(
            "Firing SLO alerts",
            "Burn-rate and absent-data alerts firing now.",
            f"count({_firing(_ANY_SLO, c)}) or vector(0)",
            alarm,
        ),
    )


def _budget_table(ratio: str, c: str) -> g.Panel:
    """One row per SLO and group, worst budget first; `ratio` is the period error ratio."""
    objective_by_slo = f"max by ({IDENTITY}) ({_m(naming.OBJECTIVE, c)})"
    # SLOs without any traffic yet still get a row: their objective alone.
    objective = (
        f"{ratio} * 0 + on({IDENTITY}) group_left() {objective_by_slo}"
        f" or on({IDENTITY}) max by ({IDENTITY}, service) ({_m(naming.OBJECTIVE, c)})"
    )
    firing = f"count by ({IDENTITY}) ({_firing(_ANY_SLO, c)})"
    alerts = f"{ratio} * 0 + on({IDENTITY}) group_left() {firing} or on({IDENTITY}) {ratio} * 0"
    return g.Panel(
        "SLOs by budget remaining",
        "table",
        "percentunit",
        "Every SLO (one row per group for grouped SLOs): objective, SLI over its period, "
        "error budget left (below 0 = overspent) and alerts firing now. Worst first.",
        (
            g.Target(objective, column="Objective"),
            g.Target(f"1 - {_strip_name(ratio)}", column="SLI (period)"),
            g.Target(_strip_name(_m(naming.ERROR_BUDGET_REMAINING, c)), column="Budget remaining"),
            g.Target(alerts, column="Firing alerts", unit="none"),
        ),
        width=24,
        height=10,
        sort_by="Budget remaining",
        steps=(g.Step("red"), g.Step("orange", 0.0), g.Step("green", 0.25)),
    )


def _budgets_over_time(slos: Sequence[SloView], c: str) -> g.Panel:
    return g.Panel(
        "Error budget remaining",
        "timeseries",
        "percentunit",
        "Share of each SLO's error budget left over its rolling period.",
        (g.Target(_m(naming.ERROR_BUDGET_REMAINING, c), _legend(slos, "{{slo_spec}}/{{slo}}")),),
        width=24,
        steps=(g.Step("red"), g.Step("green", 0.0)),
        threshold_lines=True,
    )


# ----------------------------------------------------------------------------- detail

# The spec first, then the SLO among that spec's: the pair identifies one SLO.
SPEC_VAR = g.Variable(
    "slo_spec", "Spec", naming.OBJECTIVE, naming.LABEL_SLO_SPEC, multi=False, include_all=False
)
SLO_VAR = g.Variable(
    "slo",
    "SLO",
    f'{naming.OBJECTIVE}{{{naming.LABEL_SLO_SPEC}="$slo_spec"}}',
    naming.LABEL_SLO,
    multi=False,
    include_all=False,
)
_SLO = 'slo_spec="$slo_spec",slo="$slo"'


def _only(slo_subset: Sequence[SloView], every: Sequence[SloView], m: str) -> str:
    """A series that exists only while the selected SLO is one of slo_subset (value 0)."""
    return f"max({_sel(naming.OBJECTIVE, m, slo_subset, every)}) * 0"


def detail(slos: Sequence[SloView], schema_version: int = g.DEFAULT_SCHEMA_VERSION) -> g.Dashboard:
    """One SLO, chosen by the `slo_spec` and `slo` variables: summary, SLI, budget, burn,
    (with clusters) the same per cluster, events, alerts."""
    every = slos
    label = cluster_label(slos)
    # The selected SLO's series: with clusters, the chosen ones' and the global ones.
    m = _matchers(_SLO, _or_global(label))
    ratio = _period_ratio(slos, m)
    # With alerting off for every SLO there is no alert window, so no burn rate to plot.
    burn = (
        [g.Row("Burn rate", (_burn_rates(slos, every, m),))] if any(s.tiers for s in slos) else []
    )
    per_cluster = [g.Row("Per cluster", _cluster_panels(slos, label))] if label else []
    return g.Dashboard(
        uid=DETAIL_UID,
        title="SLO detail",
        description="Generated by idp-rulegen from slo.yaml: one SLO, its budget and burn rates.",
        rows=(
            g.Row("Summary", _summary(slos, ratio, m)),
            g.Row("SLI", (_sli_over_time(slos, every, ratio, m),)),
            g.Row("Error budget", (_burn_down(slos, every, m),)),
            *burn,
            *per_cluster,
            g.Row("Events", (_event_rates(slos, every, m, label),)),
            g.Row("Alerts", _alerts(m)),
        ),
        tags=TAGS,
        variables=(SPEC_VAR, SLO_VAR, *_cluster_variables(slos, label, _SLO)),
        links=(OVERVIEW_UID,),
        time_from="now-7d",
        schema_version=schema_version,
    )


def _summary(slos: Sequence[SloView], ratio: str, m: str) -> tuple[g.Panel, ...]:
    """Four numbers: objective, SLI and budget left over the period, alerts firing now."""
    return (
        g.Panel(
            "Objective",
            "stat",
            "percentunit",
            "Target share of good events over the period.",
            (g.Target(f"max({_m(naming.OBJECTIVE, m)})"),),
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
            (g.Target(_m(naming.ERROR_BUDGET_REMAINING, m), _legend(slos, "")),),
            width=6,
            height=4,
            steps=(g.Step("red"), g.Step("orange", 0.0), g.Step("green", 0.25)),
        ),
        g.Panel(
            "Firing alerts",
            "stat",
            "none",
            "Alerts of this SLO firing now.",
            (g.Target(f"count({_m('ALERTS', m, _FIRING)}) or vector(0)"),),
            width=6,
            height=4,
            steps=(g.Step("green"), g.Step("red", 1.0)),
        ),
    )


def _sli_over_time(
    slos: Sequence[SloView], every: Sequence[SloView], ratio: str, m: str
) -> g.Panel:
    return g.Panel(
        "SLI vs objective",
        "timeseries",
        "percentunit",
        "Share of good events over the shortest alert window and over the period, "
        "against the objective.",
        (
            *_sli_targets(slos, every, m),
            g.Target(f"1 - {ratio}", _legend(slos, "SLI (period)")),
            g.Target(f"max({_m(naming.OBJECTIVE, m)})", "objective"),
        ),
        width=24,
    )


def _burn_down(slos: Sequence[SloView], every: Sequence[SloView], m: str) -> g.Panel:
    """Budget left, against the line that spends it evenly over one period."""
    ideal = tuple(
        g.Target(
            f"{_only(names, every, m)} + (1 - (time() - $__from / 1000) / {period})",
            f"ideal burn-down ({format_seconds(period)})",
        )
        for period, names in _groups(slos, lambda s: s.period)
    )
    return g.Panel(
        "Error budget remaining",
        "timeseries",
        "percentunit",
        "Budget left over the rolling period. The ideal burn-down spends the budget evenly: "
        "it starts full at the left edge of the time range and reaches 0 after one period.",
        (
            g.Target(_m(naming.ERROR_BUDGET_REMAINING, m), _legend(slos, "remaining")),
            *ideal,
        ),
        width=24,
        steps=(g.Step("red"), g.Step("green", 0.0)),
        threshold_lines=True,
    )


def _burn_rates(slos: Sequence[SloView], every: Sequence[SloView], m: str) -> g.Panel:
    return g.Panel(
        "Burn rate per alert window",
        "timeseries",
        "short",
        "Error ratio / error budget for each alert window; 1 spends the budget exactly over "
        "the period. A tier fires when both its long and short window exceed its factor.",
        (*_burn_targets(slos, every, m), *_threshold_targets(slos, every, m)),
        width=24,
        height=10,
        min=0,
    )


def _event_rates(slos: Sequence[SloView], every: Sequence[SloView], m: str, label: str) -> g.Panel:
    """Events and errors per second, per base window (SLOs may differ in it); summed over
    clusters when the recordings have one (the per-cluster row splits them)."""

    def rate(metric: str, names: Sequence[SloView], legend: str) -> g.Target:
        expr = _sel(metric, m, names, every)
        return g.Target(f"sum without ({label}) ({expr})" if label else expr, _legend(slos, legend))

    return g.Panel(
        "Event and error rates",
        "timeseries",
        "reqps",
        "Events and failed events per second (probes: probe results), from the base-window "
        "recordings the period ratio is built from.",
        tuple(
            t
            for window, names in _groups(slos, lambda s: s.base_window)
            for t in (
                rate(naming.total_events(window), names, "events"),
                rate(naming.error_events(window), names, "errors"),
            )
        ),
        width=24,
    )


def _alerts(m: str) -> tuple[g.Panel, ...]:
    """The SLO's alerts now (with their windows) and over time."""
    now = g.Panel(
        "Alert state",
        "table",
        "none",
        "Pending and firing alerts of this SLO, with the windows that triggered them.",
        (g.Target(_m("ALERTS", m), column="Active"),),
        width=24,
        height=6,
    )
    history = g.Panel(
        "Alerts over time",
        "timeseries",
        "none",
        "Firing alerts of this SLO by alert, severity and window.",
        (
            g.Target(
                f"count by (alertname, severity, long_window) ({_m('ALERTS', m, _FIRING)})",
                "{{alertname}} {{severity}} {{long_window}}",
            ),
        ),
        width=24,
        height=6,
    )
    return now, history


def _sli_targets(slos: Sequence[SloView], every: Sequence[SloView], m: str) -> list[g.Target]:
    def shortest(s: SloView) -> int | None:
        return min((t.long_window for t in s.tiers), default=None)

    out = []
    for window, names in _groups(slos, shortest):
        if window is None:
            continue  # no alert windows: only the period ratio is recorded
        metric = _sel(naming.sli_error_ratio(window), m, names, every)
        out.append(g.Target(f"1 - {metric}", _legend(slos, f"SLI ({format_seconds(window)})")))
    return out


def _burn_targets(slos: Sequence[SloView], every: Sequence[SloView], m: str) -> list[g.Target]:
    windows = sorted({w for s in slos for t in s.tiers for w in (t.short_window, t.long_window)})
    budget = f"max by ({IDENTITY}) ({_m(naming.ERROR_BUDGET, m)})"
    out = []
    for w in windows:
        having = [s for s in slos if any(w in (t.short_window, t.long_window) for t in s.tiers)]
        metric = _sel(naming.sli_error_ratio(w), m, having, every)
        out.append(
            g.Target(
                f"{metric} / on({IDENTITY}) group_left() {budget}",
                _legend(slos, format_seconds(w)),
            )
        )
    return out


def _threshold_targets(slos: Sequence[SloView], every: Sequence[SloView], m: str) -> list[g.Target]:
    def key(t: TierView) -> tuple[str, float, int, int]:
        return (t.alert, t.factor, t.long_window, t.short_window)

    out = []
    for (alert, factor, long, short), names in _groups_of_tiers(slos, key):
        legend = f"{alert} threshold x{factor:g} ({format_seconds(long)}/{format_seconds(short)})"
        out.append(g.Target(f"{_only(names, every, m)} + {factor:g}", legend))
    return out


def _groups_of_tiers(
    slos: Sequence[SloView], key: Callable[[TierView], K]
) -> list[tuple[K, list[SloView]]]:
    out: dict[K, list[SloView]] = {}
    for s in slos:
        for t in s.tiers:
            having = out.setdefault(key(t), [])
            if s not in having:
                having.append(s)
    return list(out.items())


# ----------------------------------------------------------------------------- clusters


def cluster_label(slos: Sequence[SloView]) -> str:
    """The label telling clusters apart in these SLOs' data, "" when none has one."""
    labels = sorted({s.cluster_label for s in slos if s.cluster_label})
    if len(labels) > 1:  # one topology per spec: the model cannot produce this
        raise ValueError(f"SLOs disagree on the cluster label: {labels}")
    return labels[0] if labels else ""


def _chosen(label: str) -> str:
    """The clusters chosen in the variable; regex, as Grafana writes a multi choice or All."""
    return f'{label}=~"${label}"'


def _or_global(label: str) -> str:
    """The chosen clusters' series, and series without the label (global figures)."""
    return f'{label}=~"${label}|"' if label else ""


def _cluster_variables(slos: Sequence[SloView], label: str, among: str) -> tuple[g.Variable, ...]:
    """The `cluster` variable, listing the clusters the base recordings (of `among`) come
    from: the one series every clustered SLO records with the label."""
    if not label:
        return ()
    names = [naming.total_events(w) for w in sorted({s.base_window for s in _clustered(slos)})]
    if len(names) == 1:
        metric = _m(names[0], among)
    else:
        metric = _m("", f'__name__=~"{"|".join(names)}"', among)
    return (g.Variable(label, label.replace("_", " ").capitalize(), metric, label),)


def _clustered(slos: Sequence[SloView]) -> list[SloView]:
    return [s for s in slos if s.cluster_label]


def _per_cluster(
    slos: Sequence[SloView], m: str, by: str, recording: Callable[[int], str], over: str = ""
) -> str:
    """`sum by (by)` of one base recording of the clustered SLOs (per base window), or of
    `over(recording[$__range])` over the dashboard's time range."""

    def one(window: int, names: Sequence[SloView]) -> str:
        sel = _sel(recording(window), m, names, slos)
        return f"sum by ({by}) ({over}({sel}[$__range]))" if over else f"sum by ({by}) ({sel})"

    return _any([one(w, names) for w, names in _groups(_clustered(slos), lambda s: s.base_window)])


def _cluster_ratio(slos: Sequence[SloView], m: str, by: str, over: str = "") -> str:
    """Errors / events `by` cluster. Over the range both sums sample the same instants, so
    the ratio is traffic-weighted (what the period ratio does globally)."""
    errs = _per_cluster(slos, m, by, naming.error_events, over)
    total = _per_cluster(slos, m, by, naming.total_events, over)
    return f"{errs} / ({total} > 0)"


def _cluster_table(slos: Sequence[SloView], label: str) -> g.Panel:
    """Every SLO in every chosen cluster over the time range, fastest burn first."""
    by = f"{IDENTITY}, {label}"
    ratio = _cluster_ratio(slos, _chosen(label), by, "sum_over_time")
    budget = f"max by ({IDENTITY}) ({naming.ERROR_BUDGET})"
    events = _per_cluster(slos, _chosen(label), by, naming.total_events, "avg_over_time")
    return g.Panel(
        "SLOs per cluster",
        "table",
        "percentunit",
        "Each SLO's error ratio in each cluster over the time range (errors / events there), "
        "its burn rate (ratio / error budget: 1 spends the budget exactly over the period) "
        "and its mean event rate. The global SLI sums every cluster's events, so a busy "
        "cluster weighs more than a quiet one. Fastest burn first.",
        (
            g.Target(ratio, column="Error ratio (range)"),
            g.Target(
                f"{ratio} / on({IDENTITY}) group_left() {budget}",
                column="Burn rate (range)",
                unit="short",
            ),
            g.Target(events, column="Events/s (range)", unit="reqps"),
        ),
        width=24,
        height=10,
        sort_by="Burn rate (range)",
        sort_desc=True,
    )


def _cluster_panels(slos: Sequence[SloView], label: str) -> tuple[g.Panel, ...]:
    """The selected SLO in each chosen cluster: ratio over the range, burn rate, events."""
    m = _matchers(_SLO, _chosen(label))
    legend = f"{{{{{label}}}}}"
    budget = f"max({_m(naming.ERROR_BUDGET, _SLO)})"
    return (
        g.Panel(
            "Error ratio per cluster",
            "bargauge",
            "percentunit",
            "Errors / events in each cluster over the time range, from the base-window "
            "recordings. The global SLI sums every cluster's events: a quiet cluster's "
            "errors weigh less than a busy one's.",
            (g.Target(_cluster_ratio(slos, m, label, "sum_over_time"), legend),),
            width=8,
            height=8,
            min=0,
        ),
        g.Panel(
            "Burn rate per cluster",
            "timeseries",
            "short",
            "Error ratio over the base window / error budget, per cluster: which cluster "
            "burns the budget. 1 spends it exactly over the period.",
            (g.Target(f"{_cluster_ratio(slos, m, label)} / on() group_left() {budget}", legend),),
            width=16,
            height=8,
            min=0,
        ),
        g.Panel(
            "Events per cluster",
            "timeseries",
            "reqps",
            "Events and failed events per second in each cluster (probes: probe results).",
            (
                g.Target(_per_cluster(slos, m, label, naming.total_events), f"{legend} events"),
                g.Target(_per_cluster(slos, m, label, naming.error_events), f"{legend} errors"),
            ),
            width=24,
        ),
    )
