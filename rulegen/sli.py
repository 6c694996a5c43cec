"""PromQL for each SLI kind: error events and total events over a window, aggregated.

Every kind is reduced to the same two expressions so that windows, the period and the
alerts are built identically for all of them. Probes are time-based: each probed series
counts as one event per second, failing for the share of the window it was down.
"""

from __future__ import annotations

from rulegen import promql
from rulegen.durations import format_seconds
from rulegen.model import SLI, Latency, Probe, Ratio, Raw


def _sum(expr: str, group_by: tuple[str, ...], op: str = "sum") -> str:
    if not group_by:
        return f"{op}({expr})"
    return f"{op} by ({', '.join(group_by)}) ({expr})"


def total(sli: SLI, window: int) -> str:
    w = format_seconds(window)
    match sli:
        case Ratio():
            return _sum(f"rate({sli.total.render()}[{w}])", sli.group_by)
        case Latency():
            return _sum(f"rate({sli.histogram.render(suffix='_count')}[{w}])", sli.group_by)
        case Probe():
            return _sum(f"avg_over_time({sli.metric.render()}[{w}])", sli.group_by, "count")
        case Raw():
            return f"sum({promql.fill_window(sli.total, w)})"


def errors(sli: SLI, window: int) -> str:
    """Error events; 0 (not absent) where events exist but the error series does not yet."""
    w = format_seconds(window)
    match sli:
        case Ratio():
            errs = _sum(f"rate({sli.errors.render()}[{w}])", sli.group_by)
            return f"({errs} or 0 * {total(sli, window)})"
        case Latency():
            bucket = sli.histogram.render((promql.le_matcher(sli.threshold),), suffix="_bucket")
            good = _sum(f"rate({bucket}[{w}])", sli.group_by)
            return f"({total(sli, window)} - {good})"
        case Probe():
            return _sum(f"1 - avg_over_time({sli.metric.render()}[{w}])", sli.group_by)
        case Raw():
            errs = f"sum({promql.fill_window(sli.errors, w)})"
            return f"({errs} or 0 * {total(sli, window)})"


def presence(sli: SLI, base: int) -> tuple[str, ...]:
    """What must have series for the SLI to be measurable: each the argument of an absent().

    A latency SLI also needs its threshold's bucket: with `_count` present and no such
    bucket (a threshold that is not a bucket bound) it would record nothing, silently.
    """
    match sli:
        case Ratio():
            return (sli.total.render(),)
        case Latency():
            # Always a regex on `le`, so absent() copies the same labels for both.
            forms = promql.le_values(sli.threshold)
            le = promql.Matcher("le", "=~", "|".join(promql.regex_literal(f) for f in forms))
            return (
                sli.histogram.render(suffix="_count"),
                sli.histogram.render((le,), suffix="_bucket"),
            )
        case Probe():
            return (sli.metric.render(),)
        case Raw():
            return (total(sli, base),)
