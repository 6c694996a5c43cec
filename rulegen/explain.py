"""Pure: the SRE Workbook arithmetic behind each SLO's alerts, as a plain-text table."""

from __future__ import annotations

from common.durations import format_seconds, humanize_seconds
from rulegen import promql, rules
from rulegen.model import SLO, Model
from rulegen.windows import SLOW_INTERVAL, chain_lag, chained_span

_COLUMNS = (
    "tier",
    "severity",
    "long/short",
    "factor",
    "error ratio >",
    "budget spent",
    "detects 100% errors in",
    "fires from error rate",
)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def explain_slo(slo: SLO) -> list[str]:
    lines = [
        f"SLO {slo.name} ({slo.sli.describe()}), service {slo.service}: objective {promql.number(slo.objective)}% "
        f"over {format_seconds(slo.period)}, error budget {rules.percent(slo.budget)}",
    ]
    if not slo.tiers:
        return [*lines, "  no burn-rate alerts (all tiers disabled)"]
    rows: list[tuple[str, ...]] = [_COLUMNS]
    notes = []
    for tier in slo.tiers:
        burn = slo.burn(tier)
        rows.append(
            (
                tier.name,
                tier.severity,
                f"{format_seconds(tier.long)}/{format_seconds(tier.short)}",
                promql.number(tier.factor),
                f"{promql.number(burn.threshold)} ({rules.percent(burn.threshold)})",
                rules.percent(burn.budget_spent),
                humanize_seconds(float(burn.detection_seconds))
                + (f" + for {format_seconds(tier.for_)}" if tier.for_ else ""),
                rules.percent(burn.threshold),
            )
        )
        tier_notes = _lag_notes(slo, tier.name, (tier.long, tier.short))
        if not tier_notes and tier.alert == "ticket":
            every = format_seconds(SLOW_INTERVAL)
            tier_notes = [f"  {tier.name}: evaluated every {every}: may fire up to {every} later"]
        notes += tier_notes
    notes += _lag_notes(slo, "period", (slo.period,))
    return [*lines, *_table(rows), *notes]


def _lag_notes(slo: SLO, what: str, windows: tuple[int, ...]) -> list[str]:
    """Windows summed from recorded buckets end up to a bucket (and an interval) ago."""
    notes = []
    for window in windows:
        src = rules.window_source(slo, window)
        if src in ("base", "raw"):
            continue
        span, w = chained_span(window, src), format_seconds(window)
        bucket = "hourly sums" if src == "hourly" else "5m buckets"
        covers = "" if span == window else f" ({format_seconds(span)})"
        notes.append(
            f"  {what}: the {w} window sums {bucket}{covers} every "
            f"{format_seconds(SLOW_INTERVAL)}: it may lag by up to "
            f"{format_seconds(chain_lag(src, slo.base))}"
        )
    return notes


def explain(model: Model) -> str:
    out = [
        "Burn-rate alerts fire when both windows' error ratio exceeds factor x error budget.",
        "budget spent = factor x long / period; detection = factor x budget x long / error rate.",
        "",
    ]
    for slo in model.slos:
        out += [*explain_slo(slo), ""]
    if not model.slos:
        out.append("no SLOs")
    return "\n".join(out).rstrip() + "\n"
