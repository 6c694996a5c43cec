"""Latency SLIs: requests slower than a threshold, read from a histogram's buckets.

Errors are total minus the requests in the threshold's bucket, so the threshold must be a
bucket boundary; for the exporter's own histograms that is checked against the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from common import catalog, durations
from common.durations import format_seconds
from rulegen import fixtures, promql, spec
from rulegen.promql import Selector
from rulegen.sli.base import Context, aggregate
from rulegen.sli.feed import InputSeries, Segment, counter, every, good, group_of


@dataclass(frozen=True)
class Latency:
    histogram: Selector
    threshold: Decimal  # seconds
    group_by: tuple[str, ...]
    replicas: tuple[str, ...] = ()  # labels deduplicated over (idp-exporter replicas)
    time_based: ClassVar[bool] = False

    def total_events(self, window: int) -> str:
        count = self.histogram.render(suffix="_count")
        rate = f"rate({count}[{format_seconds(window)}])"
        return aggregate(rate, self.group_by, replicas=self.replicas)

    def error_events(self, window: int) -> str:
        bucket = self.histogram.render((promql.le_matcher(self.threshold),), suffix="_bucket")
        rate = f"rate({bucket}[{format_seconds(window)}])"
        good_ = aggregate(rate, self.group_by, replicas=self.replicas)
        return f"({self.total_events(window)} - {good_})"

    def presence(self, base: int) -> tuple[str, ...]:
        """`_count` and the threshold's bucket: with `_count` present and no such bucket (a
        threshold that is not a bucket bound) the SLI would record nothing, silently."""
        # Always a regex on `le`, so absent() copies the same labels for both.
        forms = promql.le_values(self.threshold)
        le = promql.Matcher("le", "=~", "|".join(promql.regex_literal(f) for f in forms))
        return (
            self.histogram.render(suffix="_count"),
            self.histogram.render((le,), suffix="_bucket"),
        )

    def describe(self) -> str:
        return f"latency <= {promql.number(self.threshold)}s"

    def metrics(self) -> frozenset[str]:
        return frozenset({f"{self.histogram.metric}_count", f"{self.histogram.metric}_bucket"})

    def feed(self) -> LatencyFeed | None:
        labels = fixtures.labels_for([self.histogram], self.group_by)
        return None if labels is None else LatencyFeed(self, labels)


@dataclass(frozen=True)
class LatencyFeed:
    sli: Latency
    labels: dict[str, str]

    @property
    def group(self) -> dict[str, str]:
        return group_of(self.labels, self.sli.group_by)

    def series(self, segments: Sequence[Segment]) -> list[InputSeries]:
        metric = self.sli.histogram.metric
        le = {**self.labels, "le": promql.le_values(self.sli.threshold)[0]}
        return [
            counter(f"{metric}_count", self.labels, segments, every),
            counter(f"{metric}_bucket", le, segments, good),
        ]


def _threshold(value: str | float) -> Decimal:
    """Seconds: a duration such as `300ms`, or a number of seconds."""
    if isinstance(value, str):
        return Decimal(durations.parse_ms(value)) / 1000
    return Decimal(repr(float(value)))


def build(part: spec.LatencySLI, ctx: Context) -> Latency:
    histogram, group_by = promql.selector(part.histogram), ctx.group_by(part.group_by)
    replicas = ctx.replicas(histogram, "histogram", group_by)
    sli = Latency(histogram, _threshold(part.threshold), group_by, replicas)
    _check_histogram(sli, part.buckets, ctx)
    return sli


def _check_histogram(sli: Latency, declared: list[float] | None, ctx: Context) -> None:
    sel = sli.histogram
    if sel.metric.endswith(("_bucket", "_count", "_sum")):
        ctx.add(("histogram",), "give the histogram's base name, without _bucket/_count/_sum")
    if "le" in sel.label_names():
        ctx.add(("histogram",), "must not match on `le`; the threshold selects the bucket")
    family = catalog.BY_NAME.get(sel.metric)
    if family is not None and declared is not None:
        ctx.add(
            ("buckets",),
            f"{sel.metric} is in the exporter catalog, which declares its buckets; remove this",
        )
    if family is not None and family.kind is not catalog.Kind.HISTOGRAM:
        ctx.add(
            ("histogram",),
            f"{sel.metric} is a {family.kind.value} in the exporter catalog, not a histogram",
        )
        return
    # Without declared buckets a histogram from another exporter is trusted; the absent
    # alert then watches the threshold's bucket series.
    buckets = family.buckets if family is not None else declared
    if buckets is not None and not any(Decimal(repr(b)) == sli.threshold for b in buckets):
        listed = ", ".join(f"{b:g}" for b in buckets)
        ctx.add(
            ("threshold",),
            f"{sli.threshold}s is not a bucket boundary of {sel.metric} (buckets: {listed}): "
            "its bucket series would never exist and the SLO could never burn",
        )
