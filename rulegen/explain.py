"""Pure: the SRE Workbook arithmetic behind each SLO's alerts, as a plain-text table."""

from __future__ import annotations

from common.durations import format_seconds, humanize_seconds
from rulegen import naming, promql, rules
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
        *explain_topology(model),
    ]
    for slo in model.slos:
        head, *rest = explain_slo(slo)
        out += [head, *_scope(model, slo), *rest, ""]
    if not model.slos:
        out.append("no SLOs")
    return "\n".join(out).rstrip() + "\n"


def explain_topology(model: Model) -> list[str]:
    """What runs where, and why (docs/topology.md); nothing in single mode."""
    t = model.topology
    if not t.split:
        return []
    local = [a.name for a in model.alerts_in("cluster")]
    central = [a.name for a in model.alerts_in("global")]
    base = [f"{naming.error_events(s.base)}, {naming.total_events(s.base)}" for s in model.slos]
    return [
        f"Split over the {t.cluster_label!r} external label: clusters {', '.join(t.clusters)}; "
        f"global evaluator {t.evaluator}.",
        f"  every cluster's Prometheus ({naming.cluster_rules_file(model.name)}): each SLO's base "
        f"recordings ({base[0] if base else 'none'}) and {naming.ABSENT_ALERT}"
        + (f", threshold alerts {', '.join(local)}" if local else "")
        + ": they read raw series only the cluster has, and must work with the global layer down.",
        f"  the global evaluator ({_global_file(model)}): the base recordings "
        f"summed across clusters, every window, the period, budget and burn alerts, "
        f"{naming.CLUSTER_MISSING_ALERT} (severity {t.missing_severity}, for "
        f"{format_seconds(rules.ABSENT_FOR)})"
        + (f", threshold alerts {', '.join(central)}" if central else "")
        + ".",
        "  It reads only the base recordings (2 series per SLO and group per cluster cross the "
        "wire); they arrive a scrape interval plus the send delay late, which every detection "
        "time below adds, and every window sums 5m recordings (no raw series there).",
        "",
    ]


def _scope(model: Model, slo: SLO) -> list[str]:
    t = model.topology
    if slo.scope == "cluster":
        return [f"  scope cluster: one SLO series per {t.cluster_label!r}, alerting per cluster"]
    if not t.split:
        return []
    waits = (
        f"one of the {len(t.clusters)} listed clusters"
        if slo.clusters == t.clusters
        else f"{', '.join(slo.clusters)} (where it is measured)"
    )
    return [
        f"  scope global: summed across clusters, and absent (never partial) while "
        f"{waits} is missing ({naming.CLUSTER_MISSING_ALERT} fires)"
    ]


def _global_file(model: Model) -> str:
    t = model.topology
    if t.evaluator == "mimir":
        return f"{naming.global_mimir_file(model.name)}, Mimir namespace {t.mimir_namespace}"
    return naming.global_rules_file(model.name)
