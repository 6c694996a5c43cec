"""Checks a published snapshot against the catalog, and merges snapshots into families.

The runtime refuses anything the catalog does not declare, so a source bug cannot put
an undeclared metric, label or bucket layout on /metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.metrics_core import Metric

from common import catalog

_LE = "le"


class SnapshotError(ValueError):
    """A source tried to publish something outside the catalog."""


def catalog_name(metric: Metric) -> str:
    """The catalog name of a family (prometheus_client strips `_total` from counters)."""
    return f"{metric.name}_total" if metric.type == "counter" else metric.name


def check(snapshot: Iterable[Metric]) -> tuple[Metric, ...]:
    """The snapshot as an immutable tuple, or SnapshotError naming what is undeclared."""
    out = tuple(snapshot)
    for metric in out:
        name = catalog_name(metric)
        spec = catalog.BY_NAME.get(name)
        if spec is None:
            raise SnapshotError(f"{name} is not in the metric catalog")
        if spec.kind.value != metric.type:
            raise SnapshotError(f"{name} is a {spec.kind.value}, not a {metric.type}")
        allowed = frozenset(spec.series_names())
        labels = frozenset(spec.labels)
        bounds = (
            frozenset([*(str(float(b)) for b in spec.buckets), "+Inf"])
            if spec.kind is catalog.Kind.HISTOGRAM
            else frozenset()
        )
        for sample in metric.samples:
            if sample.name not in allowed:
                raise SnapshotError(f"{sample.name} is not a series of {name}")
            keys = set(sample.labels)
            if sample.name.endswith("_bucket"):
                if sample.labels.get(_LE) not in bounds:
                    raise SnapshotError(f"{name} bucket le={sample.labels.get(_LE)} undeclared")
                keys.discard(_LE)
            if keys != labels:
                raise SnapshotError(f"{name} has labels {sorted(keys)}, want {sorted(labels)}")
    return out


def merge(snapshots: Iterable[Sequence[Metric]]) -> list[Metric]:
    """One family per name, in catalog order, samples in the order the snapshots came.

    The text format requires all samples of a family under a single HELP/TYPE, and two
    sources (e.g. two PostgreSQL servers) publish the same families.
    """
    grouped: dict[str, list[Metric]] = {}
    for snapshot in snapshots:
        for metric in snapshot:
            grouped.setdefault(catalog_name(metric), []).append(metric)
    merged = []
    for spec in catalog.FAMILIES:
        parts = grouped.get(spec.name)
        if not parts:
            continue
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        first = parts[0]
        family = Metric(first.name, first.documentation, first.type, first.unit)
        family.samples = [s for part in parts for s in part.samples]
        merged.append(family)
    return merged
