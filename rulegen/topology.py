"""Where the rules run (docs/topology.md): one Prometheus, or split per cluster plus a global
layer. The typed Topology every renderer reads, and the checks that need it.

Split mode puts the base recordings in every cluster's Prometheus and everything else in
the global evaluator, which sums them across clusters; the cluster label is the external
label each cluster's Prometheus adds on the way out. So the label must be free (no spec
label, group_by or generated label may hold it), and an SLO scoped per cluster must
neither pin it nor aggregate it away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import promql_parser as pp

from common.issues import JsonPath as Path_
from rulegen import lint, naming, promql, spec

Mode = Literal["single", "split"]
Evaluator = Literal["prometheus", "thanos", "mimir"]
Scope = Literal["global", "cluster"]
Report = Callable[[Path_, str], None]


@dataclass(frozen=True)
class Topology:
    mode: Mode = "single"
    cluster_label: str = "cluster"
    clusters: tuple[str, ...] = ()  # split: the clusters expected to report
    evaluator: Evaluator = "prometheus"
    mimir_namespace: str = ""  # mimir only
    # SLOClusterMissing's severity (the page class's) and runbook.
    missing_severity: str = "critical"
    missing_runbook_url: str | None = None

    @property
    def split(self) -> bool:
        return self.mode == "split"

    def series_labels(self, group_by: tuple[str, ...], scope: Scope) -> tuple[str, ...]:
        """The group labels of an SLO's series: its SLI's group_by, and in split mode the
        cluster label first for scope: cluster (single mode's group_by already holds it)."""
        if self.split and scope == "cluster":
            return (self.cluster_label, *group_by)
        return group_by


_WHERE = ("topology",)


def build(file: spec.SpecFile, report: Report, runbook_url: str | None) -> Topology:
    """The spec's topology; every misplaced or missing option reported."""
    t = file.topology
    given = t.model_fields_set
    if t.mode == "single":
        for key, present in (("clusters", "clusters" in given), ("global", t.global_ is not None)):
            if present:
                report((*_WHERE, key), f"{key!r} is a split-mode option; set topology.mode: split")
        for i, a in enumerate(file.alerts):
            if a.scope == "global":
                report(("alerts", i, "scope"), "scope: global needs topology.mode: split")
        return Topology(cluster_label=t.cluster_label)
    _check_split(file, report)
    layer = t.global_ or spec.GlobalLayer()
    if layer.mimir_namespace is not None and layer.evaluator != "mimir":
        report((*_WHERE, "global", "mimir_namespace"), "only for global.evaluator: mimir")
    return Topology(
        mode="split",
        cluster_label=t.cluster_label,
        clusters=tuple(t.clusters or ()),
        evaluator=layer.evaluator,
        mimir_namespace=layer.mimir_namespace or file.metadata.name,
        missing_severity=file.defaults.alerting.page.severity,
        missing_runbook_url=runbook_url,
    )


def _check_split(file: spec.SpecFile, report: Report) -> None:
    t = file.topology
    if t.clusters is None:
        report(
            (*_WHERE, "mode"),
            "mode: split needs topology.clusters: the cluster label values expected to report",
        )
    seen: set[str] = set()
    for i, c in enumerate(t.clusters or ()):
        if c in seen:
            report((*_WHERE, "clusters", i), f"cluster {c!r} is listed twice")
        seen.add(c)
    label, where = t.cluster_label, (*_WHERE, "cluster_label")
    if label in naming.RESERVED_LABELS:
        report(where, f"{label!r} is set by idp-rulegen and cannot be the cluster label")
    elif label in file.metadata.labels:
        report(where, f"{label!r} is also a metadata.labels key; the two would collide")
    for i, s in enumerate(file.slos):
        kind, part = _kind(s.sli)
        group_by = getattr(part, "group_by", [])
        if label in group_by:
            report(
                ("slos", i, "sli", kind, "group_by", group_by.index(label)),
                f"{label!r} is the cluster label: the global layer keeps it with scope: cluster "
                "(per-cluster SLOs) or sums it away (scope: global); it cannot be grouped by",
            )


def _kind(s: spec.SLI) -> tuple[str, Any]:
    for key in ("ratio", "latency", "probe", "raw"):
        part = getattr(s, key)
        if part is not None:
            return key, part
    raise AssertionError("the schema requires one SLI kind")


def cluster_sli(s: spec.SLO, t: Topology) -> spec.SLI:
    """The SLI as its kind builds it: in single mode, scope: cluster groups by the cluster
    label too (one Prometheus sees every cluster's series, carrying it as a target label)."""
    kind, part = _kind(s.sli)
    if s.scope != "cluster" or t.split or not hasattr(part, "group_by"):
        return s.sli
    if t.cluster_label in part.group_by:
        return s.sli  # reported by check_slo
    grouped = part.model_copy(update={"group_by": [*part.group_by, t.cluster_label]})
    return s.sli.model_copy(update={kind: grouped})


def slo_clusters(s: spec.SLO, t: Topology) -> tuple[str, ...]:
    """The clusters a split-mode SLO's global sums wait for: its own list, else all."""
    if not t.split:
        return ()
    return tuple(s.clusters) if s.clusters else t.clusters


def _check_slo_clusters(s: spec.SLO, path: Path_, t: Topology, report: Report) -> None:
    if s.clusters is None:
        return
    where: Path_ = (*path, "clusters")
    if not t.split:
        report(where, "'clusters' is a split-mode option; set topology.mode: split")
        return
    if s.scope == "cluster":
        report(
            where,
            "only for scope: global: a scope: cluster SLO has one series per cluster that "
            "reports and waits for none",
        )
        return
    seen: set[str] = set()
    for i, c in enumerate(s.clusters):
        if c not in t.clusters:
            report((*where, i), f"cluster {c!r} is not in topology.clusters")
        elif c in seen:
            report((*where, i), f"cluster {c!r} is listed twice")
        seen.add(c)


def check_slo(s: spec.SLO, path: Path_, t: Topology, report: Report) -> None:
    """An SLO's own cluster list must name listed clusters; a per-cluster SLO must keep
    the cluster label: no matcher on it, no aggregation that drops it."""
    _check_slo_clusters(s, path, t, report)
    if s.scope != "cluster":
        return
    label = t.cluster_label
    kind, part = _kind(s.sli)
    where: Path_ = (*path, "sli", kind)
    if not t.split and label in getattr(part, "group_by", []):
        report(
            (*where, "group_by", part.group_by.index(label)),
            f"scope: cluster already groups by {label!r}",
        )
    for field, text in _expressions(kind, part):
        for problem in _cluster_problems(text, label):
            report((*where, field), f"scope: cluster: {problem}")


def _expressions(kind: str, part: Any) -> Iterator[tuple[str, str]]:
    fields = {
        "ratio": ("errors", "total"),
        "latency": ("histogram",),
        "probe": ("metric",),
        "raw": ("errors", "total", "error_ratio"),
    }[kind]
    for field in fields:
        text = getattr(part, field)
        if text is not None:
            yield field, promql.fill_window(text, "5m")


def _cluster_problems(expr: str, label: str) -> Iterator[str]:
    stack = [promql.parse(expr)]
    while stack:
        n = stack.pop()
        if isinstance(n, pp.VectorSelector) and any(m.name == label for m in n.matchers.matchers):
            yield (
                f"{n.name or 'a selector'} has a matcher on {label!r}: a per-cluster SLO "
                "must see every cluster"
            )
        if isinstance(n, pp.AggregateExpr) and _drops(n, label):
            yield (
                f"{n.op}() aggregates {label!r} away (keep it in by (...), or out of without (...))"
            )
        stack.extend(promql.children(n))


_KEEPS_LABELS = frozenset({"topk", "bottomk"})  # select series, labels intact


def _drops(n: Any, label: str) -> bool:
    """An aggregation whose result has no `label`: plain sum(), by (...) without it, or
    without (... label ...)."""
    if str(n.op) in _KEEPS_LABELS:
        return False
    if n.modifier is None:
        return True
    labels = list(n.modifier.labels)
    if n.modifier.type == pp.AggModifierType.By:
        return label not in labels
    return label in labels


def check_global_alert(a: spec.Alert, path: Path_, report: Report) -> None:
    """The global evaluator sees only what the clusters send: the bundle's recordings."""
    for sel in lint.selectors(promql.parse(a.expr)):
        name = sel.name or next(
            (m.value for m in sel.matchers.matchers if m.name == "__name__"), ""
        )
        if not str(name).startswith(naming.RULE_PREFIX):
            report(
                (*path, "expr"),
                f"scope: global reads {name or 'a selector without a metric name'!s}: the "
                "global evaluator sees only the series the bundle records (slo:*); keep this "
                "alert in the clusters (scope: cluster)",
            )
