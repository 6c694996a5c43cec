"""Raw SLIs: the user's own PromQL for error and total events, with `$window` as the range.

The expressions are the user's, so the generated tests cannot synthesise their inputs:
they feed the recordings the alerts read instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import promql_parser

from common.durations import format_seconds
from rulegen import promql, spec
from rulegen.sli.base import Context, Feed, aggregate


@dataclass(frozen=True)
class Raw:
    errors: str  # PromQL with $window
    total: str
    group_by: tuple[str, ...] = ()  # only the cluster label, for scope: cluster in single mode
    time_based: ClassVar[bool] = False

    def total_events(self, window: int) -> str:
        return aggregate(promql.fill_window(self.total, format_seconds(window)), self.group_by)

    def error_events(self, window: int) -> str:
        errs = aggregate(promql.fill_window(self.errors, format_seconds(window)), self.group_by)
        return f"({errs} or 0 * {self.total_events(window)})"

    def presence(self, base: int) -> tuple[str, ...]:
        return (self.total_events(base),)

    def describe(self) -> str:
        return "raw"

    def metrics(self) -> frozenset[str]:
        names: set[str] = set()
        for expr in (self.errors, self.total):
            promql_parser.walk(
                promql_parser.parse(promql.fill_window(expr, "5m")),
                pre_visit=lambda n: (
                    names.add(str(n.name)) if isinstance(n, promql_parser.VectorSelector) else None
                ),
            )
        return frozenset(names)

    def feed(self) -> Feed | None:
        return None


def build(part: spec.RawSLI, ctx: Context) -> Raw:
    # The total is checked by the schema (a constant total would hide missing data).
    for field, expr in (("error_ratio", part.error_ratio), ("errors", part.errors)):
        if expr is not None and promql.yields_without_series(
            promql_parser.parse(promql.fill_window(expr, "5m"))
        ):
            ctx.add((field,), _ANSWERS_WITHOUT_SERIES)
    if part.error_ratio is not None:
        return _error_ratio(part.error_ratio)
    assert part.errors is not None and part.total is not None  # the schema checks
    return Raw(part.errors, part.total)


_ANSWERS_WITHOUT_SERIES = (
    "returns a sample even when no series exists (e.g. `or on() vector(0)`): its recordings "
    "never go absent, so a lost metric looks healthy and the generated tests cannot feed "
    "them; drop that part (missing error series already count as 0 wherever there are events)"
)


def _error_ratio(ratio: str) -> Raw:
    """A ratio computed elsewhere carries no event counts: each of its series is one event
    per base window, failing by the ratio. The period is then the time-average of the
    ratio (every window weighs the same), and a NaN ratio (no traffic) drops from both
    sums. As plain raw errors/total, every renderer handles it unchanged."""
    return Raw(f"({ratio})", f"({ratio}) * 0 + 1")
