"""Pure: model -> Prometheus rule groups (recording rules, burn-rate and threshold alerts).

Per SLO, four groups (`window_groups`, the one layout every rules file shares):
- `slo:<name>:short` (default interval): the base-window event rates, the error ratios
  that must be exact (page windows under 12h, windows under 1h) read from raw series,
  the burn-rate alerts and the absent alert.
- `slo:<name>:buckets` (5m): the base recordings summed per 5m bucket.
- `slo:<name>:hourly` (1h): those buckets summed per hour.
- `slo:<name>:long` (2m): every other window from the 5m buckets, the period from the
  hourly sums, objective and budget series. Never `rate(x[30d])` over raw series, and no
  sum over thousands of base samples: the period reads one sample per hour.
Every ratio is sum(error rate samples) / sum(total rate samples): both sampled at the same
instants, so it weights every event equally (traffic-weighted), and a zero-traffic
window adds 0 to both sums instead of a NaN that would poison the whole period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from common.durations import format_seconds
from rulegen import naming, promql, windows
from rulegen.model import SLO, Labels, Model, ThresholdAlert, Tier
from rulegen.promql import number
from rulegen.windows import BUCKET, HOURLY, SLOW_INTERVAL

ABSENT_FOR = 600
ABSENT_SEVERITY = "warning"
MAX_RULES_PER_GROUP = 20  # mixtool's alert-group-rule-count
# A base sample is recorded only if finite and non-negative: one NaN summed over the
# period would hide the SLO for 30 days (sloth #133).
FINITE = " >= 0 < +Inf"


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str
    labels: Labels

    def as_dict(self) -> dict[str, object]:
        return {"record": self.record, "expr": self.expr, "labels": dict(self.labels)}


@dataclass(frozen=True)
class Alerting:
    alert: str
    expr: str
    for_: int | None
    labels: Labels
    annotations: Labels

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"alert": self.alert, "expr": self.expr}
        if self.for_:
            out["for"] = format_seconds(self.for_)
        out["labels"] = dict(self.labels)
        out["annotations"] = dict(self.annotations)
        return out


Rule = Recording | Alerting


@dataclass(frozen=True)
class Group:
    name: str
    interval: int | None
    rules: tuple[Rule, ...]
    # Thanos Ruler only: `abort` fails an evaluation rather than alert on a partial sum.
    partial_response_strategy: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name}
        if self.interval:
            out["interval"] = format_seconds(self.interval)
        if self.partial_response_strategy:
            out["partial_response_strategy"] = self.partial_response_strategy
        out["rules"] = [r.as_dict() for r in self.rules]
        return out


@dataclass(frozen=True)
class Base:
    """The base-window recordings an SLO's windows are built from. `raw`: the exact
    windows may read the raw series (not in the global layer, which has none: there they
    sum the base samples every evaluation)."""

    errors: str
    total: str
    raw: bool = True


def single_base(slo: SLO) -> Base:
    return Base(naming.error_events(slo.base), naming.total_events(slo.base))


def percent(value: Decimal) -> str:
    return f"{float(value * 100):.3g}%"


def common_labels(model: Model, slo: SLO) -> Labels:
    return (
        (naming.LABEL_SLO, slo.name),
        (naming.LABEL_SLO_SPEC, model.name),
        (naming.LABEL_SERVICE, slo.service),
        *model.labels,
    )


def identity_matchers(model: Model, slo: SLO) -> str:
    """`slo="…", slo_spec="…"`: an SLO's identity; its name alone is unique per spec only."""
    return (
        f"{naming.LABEL_SLO}={promql.string(slo.name)}, "
        f"{naming.LABEL_SLO_SPEC}={promql.string(model.name)}"
    )


def _select(name: str, model: Model, slo: SLO) -> str:
    return f"{name}{{{identity_matchers(model, slo)}}}"


def _page_windows(slo: SLO) -> frozenset[int]:
    return frozenset(w for t in slo.tiers if t.alert == "page" for w in (t.long, t.short))


def window_source(slo: SLO, window: int) -> windows.Source:
    return windows.source(window, slo.base, slo.period, _page_windows(slo))


def every_evaluation(slo: SLO, window: int) -> bool:
    """The exact windows pages read; every other window (tickets or dashboards only, or
    summed) is evaluated every SLOW_INTERVAL: Prometheus' cost is mostly per rule
    evaluation, whatever the rule reads."""
    return window in _page_windows(slo) and window_source(slo, window) in ("base", "raw")


def _fast_tier(tier: Tier) -> bool:
    """Pages are evaluated every evaluation; tickets with their windows, every 2m."""
    return tier.alert == "page"


def _sum_ratio(errors: str, total: str, range_: str) -> str:
    return f"sum_over_time({errors}[{range_}]) / (sum_over_time({total}[{range_}]) > 0)"


def _ratio_expr(model: Model, slo: SLO, window: int, base: Base) -> str:
    """The error ratio over `window`, from the SLI's raw series or from `bases` (see
    window_source); all window arithmetic lives here and in rulegen/windows.py."""
    b = base
    src = window_source(slo, window)
    if src == "base":
        return f"{_select(b.errors, model, slo)} / ({_select(b.total, model, slo)} > 0)"
    if src == "raw" and b.raw:
        return f"{slo.sli.error_events(window)} / ({slo.sli.total_events(window)} > 0)"
    if src == "raw":
        errs, tot = _select(b.errors, model, slo), _select(b.total, model, slo)
        return _sum_ratio(errs, tot, format_seconds(window))
    step = windows.chain_step(src)
    errs = _select(naming.event_sums(b.errors, step), model, slo)
    tot = _select(naming.event_sums(b.total, step), model, slo)
    return _sum_ratio(errs, tot, windows.short_range(windows.chained_span(window, src)))


def chain_recordings(
    model: Model, slo: SLO, base: Base, labels: Labels
) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The base recordings summed per 5m bucket, and those buckets summed per hour."""

    def sums(record: str, read: str, step: int) -> Recording:
        return Recording(
            naming.event_sums(record, step),
            f"sum_over_time({_select(read, model, slo)}[{windows.short_range(step)}])",
            labels,
        )

    records = (base.errors, base.total)
    buckets = tuple(sums(r, r, BUCKET) for r in records)
    hourly = tuple(sums(r, naming.event_sums(r, BUCKET), HOURLY) for r in records)
    return buckets, hourly


def burn_alert(model: Model, slo: SLO, tier: Tier) -> Alerting:
    threshold = f"({number(tier.factor)} * {number(slo.budget)})"
    long, short = format_seconds(tier.long), format_seconds(tier.short)
    expr = (
        f"{_select(naming.sli_error_ratio(tier.long), model, slo)} > {threshold}"
        f" and {_select(naming.sli_error_ratio(tier.short), model, slo)} > {threshold}"
    )
    labels = (
        *common_labels(model, slo),
        (naming.LABEL_SEVERITY, tier.severity),
        (naming.LABEL_LONG_WINDOW, long),
        (naming.LABEL_SHORT_WINDOW, short),
        *tier.labels,
    )
    description = burn_description(
        slo, tier, "{{ $value | humanizePercentage }}", promql.template_literal(slo.description)
    )
    return Alerting(
        alert=slo.alert_name,
        expr=expr,
        for_=tier.for_,
        labels=_dedupe(labels),
        annotations=alert_annotations(
            f"SLO {slo.name} is burning its error budget {number(tier.factor)}x too fast.",
            description,
            slo.runbook_url,
            tier.annotations,
        ),
    )


def burn_description(slo: SLO, tier: Tier, value: str, description: str) -> str:
    """The burn alert's description; tests render it with the value Prometheus would print."""
    burn = slo.burn(tier)
    long, short = format_seconds(tier.long), format_seconds(tier.short)
    what = "of the time" if slo.sli.time_based else "of events"
    lead = f"{description} " if description else ""
    return (
        f"{lead}{value} {what} failed over the last {long} "
        f"(and over {short} too), above {number(tier.factor)}x the error budget "
        f"({percent(burn.threshold)}): at this rate {percent(burn.budget_spent)} of the "
        f"{format_seconds(slo.period)} budget is spent in {long}."
    )


def absent_description(slo: SLO) -> str:
    return (
        f"Nothing matches {' or '.join(slo.sli.presence(slo.base))}, so SLO {slo.name} "
        "cannot be measured and its burn-rate alerts cannot fire."
    )


def absent_alert(model: Model, slo: SLO) -> Alerting:
    # `or on()`: one alert, with the labels of the first absent() that fires.
    expr = " or on() ".join(f"absent({t})" for t in slo.sli.presence(slo.base))
    return Alerting(
        alert=naming.ABSENT_ALERT,
        expr=expr,
        for_=ABSENT_FOR,
        labels=_dedupe((*common_labels(model, slo), (naming.LABEL_SEVERITY, ABSENT_SEVERITY))),
        annotations=alert_annotations(
            f"SLO {slo.name} has no data.",
            promql.template_literal(absent_description(slo)),
            slo.runbook_url,
        ),
    )


def alert_annotations(
    summary: str, description: str | None, runbook_url: str | None, extra: Labels = ()
) -> Labels:
    """The generated annotations, then the spec's own (the schema keeps their names apart)."""
    out = [("summary", summary)]
    if description:
        out.append(("description", description))
    if runbook_url:
        out.append(("runbook_url", runbook_url))
    return _dedupe((*out, *extra))


def _dedupe(labels: Labels) -> Labels:
    """Later labels win (alerting.labels over spec labels), first position kept."""
    merged: dict[str, str] = {}
    for key, value in labels:
        merged[key] = value
    return tuple(merged.items())


def base_recordings(model: Model, slo: SLO) -> list[Rule]:
    """The SLO's base-window event rates, read from raw series (filtered to be finite)."""
    labels, base = common_labels(model, slo), slo.base
    return [
        Recording(naming.error_events(base), slo.sli.error_events(base) + FINITE, labels),
        Recording(naming.total_events(base), slo.sli.total_events(base) + FINITE, labels),
    ]


def slo_groups(model: Model, slo: SLO) -> tuple[Group, ...]:
    return window_groups(
        model,
        slo,
        single_base(slo),
        base_recordings(model, slo),
        [absent_alert(model, slo)],
        grouped=bool(slo.sli.group_by),
    )


def window_groups(
    model: Model,
    slo: SLO,
    base: Base,
    first: list[Rule],
    last: list[Rule],
    *,
    grouped: bool,
) -> tuple[Group, ...]:
    """The group layout every rules file shares, built from `base`: `first` (the rules
    recording it), the page windows and page alerts every evaluation; the 5m bucket and
    hourly sums; then every other window, the ticket alerts, `last` (alerts fine at 2m,
    e.g. the absent alert: a warning after 10m) and the budget series. The file order is
    the evaluation order promtool keeps within a step. `grouped`: the SLO has series per
    group (group_by, or per cluster)."""
    labels = common_labels(model, slo)
    fast: list[Rule] = list(first)
    slow: list[Rule] = []
    for window in slo.windows():
        expr = _ratio_expr(model, slo, window, base)
        rule = Recording(naming.sli_error_ratio(window), expr, labels)
        (fast if every_evaluation(slo, window) else slow).append(rule)
    fast += [burn_alert(model, slo, t) for t in slo.tiers if _fast_tier(t)]
    slow += [burn_alert(model, slo, t) for t in slo.tiers if not _fast_tier(t)]
    slow += last
    buckets, hourly = chain_recordings(model, slo, base, labels)
    slow += budget_recordings(model, slo, labels, grouped)
    return (
        Group(naming.fast_group(slo.name), None, tuple(fast)),
        Group(naming.bucket_group(slo.name), BUCKET, buckets),
        Group(naming.hourly_group(slo.name), HOURLY, hourly),
        Group(naming.slow_group(slo.name), SLOW_INTERVAL, tuple(slow)),
    )


def budget_recordings(model: Model, slo: SLO, labels: Labels, grouped: bool) -> list[Rule]:
    period = _select(naming.sli_error_ratio(slo.period), model, slo)
    # With groups, one objective series per group: derived from the period ratio so it
    # carries the group labels that dashboards join on.
    target, budget = number(slo.target), number(slo.budget)
    return [
        Recording(
            naming.OBJECTIVE,
            f"0 * {period} + {target}" if grouped else f"vector({target})",
            labels,
        ),
        Recording(
            naming.ERROR_BUDGET,
            f"0 * {period} + {budget}" if grouped else f"vector({budget})",
            labels,
        ),
        Recording(naming.ERROR_BUDGET_REMAINING, f"1 - {period} / {budget}", labels),
    ]


def threshold_groups(
    model: Model, alerts: tuple[ThresholdAlert, ...] | None = None, suffix: str = ""
) -> tuple[Group, ...]:
    """The spec's threshold alerts (`alerts`, default all), at most 20 per group, in groups
    named `alerts:<spec><suffix>`, then `...:2`."""
    rules = [
        Alerting(
            alert=a.name,
            expr=a.expr,
            for_=a.for_,
            labels=_dedupe(((naming.LABEL_SEVERITY, a.severity), *model.labels, *a.labels)),
            annotations=alert_annotations(a.summary, a.description, a.runbook_url, a.annotations),
        )
        for a in (model.alerts if alerts is None else alerts)
    ]
    chunks = [rules[i : i + MAX_RULES_PER_GROUP] for i in range(0, len(rules), MAX_RULES_PER_GROUP)]
    return tuple(
        Group(naming.threshold_group(model.name + suffix, i), None, tuple(c))
        for i, c in enumerate(chunks)
    )


def groups(model: Model) -> tuple[Group, ...]:
    out: list[Group] = []
    for slo in model.slos:
        out.extend(slo_groups(model, slo))
    out.extend(threshold_groups(model))
    return tuple(out)
