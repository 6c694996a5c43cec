"""Ratio SLIs: a counter of error events over a counter of all events.

When both selectors name the same metric (e.g. `code=~"5.."` and `code!~"5.."`), the two
are the bad and good halves of one counter rather than errors and total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from common import catalog
from common.durations import format_seconds
from rulegen import fixtures, promql, spec
from rulegen.promql import Matcher, Selector
from rulegen.sli.base import Context, aggregate
from rulegen.sli.feed import InputSeries, Segment, bad, counter, every, good, group_of


@dataclass(frozen=True)
class Ratio:
    errors: Selector
    total: Selector
    group_by: tuple[str, ...]
    # Labels each selector is deduplicated over (replicas of idp-exporter), or none.
    errors_replicas: tuple[str, ...] = ()
    total_replicas: tuple[str, ...] = ()
    time_based: ClassVar[bool] = False

    def total_events(self, window: int) -> str:
        rate = f"rate({self.total.render()}[{format_seconds(window)}])"
        return aggregate(rate, self.group_by, replicas=self.total_replicas)

    def error_events(self, window: int) -> str:
        w = format_seconds(window)
        rate = f"rate({self.errors.render()}[{w}])"
        errs = aggregate(rate, self.group_by, replicas=self.errors_replicas)
        return f"({errs} or 0 * {self.total_events(window)})"

    def presence(self, base: int) -> tuple[str, ...]:
        return (self.total.render(),)

    def describe(self) -> str:
        return "ratio"

    def metrics(self) -> frozenset[str]:
        return frozenset({self.errors.metric, self.total.metric})

    @property
    def halves(self) -> bool:
        """Errors and total select the bad and good halves of one counter."""
        return self.errors.metric == self.total.metric

    def feed(self) -> RatioFeed | None:
        e, t, gb = self.errors, self.total, self.group_by
        bad_labels = fixtures.labels_for([e, t] if self.halves else [e], gb)
        if bad_labels is None:
            return None
        other = fixtures.labels_for(
            [t, _pin(bad_labels, gb)], gb, violate=e if self.halves else None
        )
        return None if other is None else RatioFeed(self, bad_labels, other)


@dataclass(frozen=True)
class RatioFeed:
    sli: Ratio
    bad_labels: dict[str, str]
    other_labels: dict[str, str]  # the good half, or the total

    @property
    def group(self) -> dict[str, str]:
        return group_of(self.bad_labels, self.sli.group_by)

    def series(self, segments: Sequence[Segment]) -> list[InputSeries]:
        e, t = self.sli.errors, self.sli.total
        return [
            counter(e.metric, self.bad_labels, segments, bad),
            counter(t.metric, self.other_labels, segments, good if self.sli.halves else every),
        ]


def _pin(labels: dict[str, str], group_by: tuple[str, ...]) -> Selector:
    """A selector forcing the same group values onto another series."""
    return Selector("_", tuple(Matcher(g, "=", labels.get(g, "")) for g in group_by))


def build(part: spec.RatioSLI, ctx: Context) -> Ratio:
    errors, total = promql.selector(part.errors), promql.selector(part.total)
    group_by = ctx.group_by(part.group_by)
    sli = Ratio(
        errors,
        total,
        group_by,
        ctx.replicas(errors, "errors", group_by),
        ctx.replicas(total, "total", group_by),
    )
    ctx.check_kind(sli.errors, catalog.Kind.COUNTER, "errors")
    ctx.check_kind(sli.total, catalog.Kind.COUNTER, "total")
    return sli
