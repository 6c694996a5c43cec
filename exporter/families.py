"""Build prometheus_client metric families from the catalog, and nothing else.

Sources call `family(name)` instead of constructing metric families themselves, so the
name, type, help and label names always come from `common.catalog`; asking for a name
that is not in the catalog is a programming error and raises KeyError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from common.catalog import BY_NAME, Kind

AnyFamily = CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily


def family(name: str) -> AnyFamily:
    """An empty family for catalog metric `name`, ready for `add_metric(label_values, …)`."""
    spec = BY_NAME[name]
    labels = list(spec.labels)
    if spec.kind is Kind.COUNTER:
        return CounterMetricFamily(spec.name, spec.help, labels=labels)
    if spec.kind is Kind.GAUGE:
        return GaugeMetricFamily(spec.name, spec.help, labels=labels)
    return HistogramMetricFamily(spec.name, spec.help, labels=labels)


def samples(name: str, values: Mapping[tuple[str, ...], float]) -> Metric:
    """A counter or gauge family with one sample per label-value tuple, sorted for stable output."""
    metric = family(name)
    if isinstance(metric, HistogramMetricFamily):
        raise TypeError(f"{name} is a histogram; use histogram_family")
    for label_values in sorted(values):
        metric.add_metric(list(label_values), values[label_values])
    return metric


class Histogram:
    """A mutable cumulative histogram with the catalog's buckets, for a source's state.

    Sources keep one per label-value tuple and turn them into a family with
    `histogram_family`. Not thread-safe: the owning source serialises updates.
    """

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative (le, count) pairs ending with +Inf, as HistogramMetricFamily wants."""
        pairs = [(_format_le(b), float(c)) for b, c in zip(self.bounds, self.counts, strict=True)]
        pairs.append(("+Inf", float(self.count)))
        return pairs


def histogram_family(name: str, histograms: Mapping[tuple[str, ...], Histogram]) -> Metric:
    """A histogram family with one histogram per label-value tuple (sorted)."""
    metric = family(name)
    assert isinstance(metric, HistogramMetricFamily)
    for label_values in sorted(histograms):
        h = histograms[label_values]
        metric.add_metric(list(label_values), h.buckets(), h.total)
    return metric


def _format_le(bound: float) -> str:
    # Match prometheus_client's own formatting of bucket bounds ("300.0", "0.5").
    return str(float(bound))
