"""Probe SLIs: a 0/1 gauge per probed target. Time-based: each probed series counts as
one event per second, failing for the share of the window it was down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from common import catalog
from common.durations import format_seconds
from rulegen import fixtures, promql, spec
from rulegen.promql import Selector
from rulegen.sli.base import Context, aggregate, deduplicate
from rulegen.sli.feed import InputSeries, Segment, braces, group_of, num


@dataclass(frozen=True)
class Probe:
    metric: Selector
    group_by: tuple[str, ...]
    replicas: tuple[str, ...] = ()  # labels deduplicated over (idp-exporter replicas)
    time_based: ClassVar[bool] = True

    def _up(self, window: int) -> str:
        """Each target's up share over the window; replicas probing the same target are
        averaged into one (see docs/counting.md for why avg, not max)."""
        up = f"avg_over_time({self.metric.render()}[{format_seconds(window)}])"
        return deduplicate(up, self.replicas, "avg")

    def total_events(self, window: int) -> str:
        return aggregate(self._up(window), self.group_by, "count")

    def error_events(self, window: int) -> str:
        return aggregate(f"1 - {self._up(window)}", self.group_by)

    def presence(self, base: int) -> tuple[str, ...]:
        return (self.metric.render(),)

    def describe(self) -> str:
        return "probe (time-based)"

    def metrics(self) -> frozenset[str]:
        return frozenset({self.metric.metric})

    def feed(self) -> ProbeFeed | None:
        labels = fixtures.labels_for([self.metric], self.group_by)
        return None if labels is None else ProbeFeed(self, labels)


@dataclass(frozen=True)
class ProbeFeed:
    sli: Probe
    labels: dict[str, str]

    @property
    def group(self) -> dict[str, str]:
        return group_of(self.labels, self.sli.group_by)

    def series(self, segments: Sequence[Segment]) -> list[InputSeries]:
        """One probed target, up for 1 - the error ratio of each sample; stale when traffic stops."""
        values = []
        for count, ratio in segments:
            if ratio is None:
                values.append("stale")
                break
            values.append(f"{num(1 - ratio)}x{count - 1}")
        return [InputSeries(self.sli.metric.metric + braces(self.labels), " ".join(values))]


def build(part: spec.ProbeSLI, ctx: Context) -> Probe:
    metric, group_by = promql.selector(part.metric), ctx.group_by(part.group_by)
    sli = Probe(metric, group_by, ctx.replicas(metric, "metric", group_by))
    ctx.check_kind(sli.metric, catalog.Kind.GAUGE, "metric")
    return sli
