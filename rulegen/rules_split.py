"""Pure: model -> the two rule files of split mode (docs/topology.md says why each rule
runs where it does).

- The cluster file, loaded by every cluster's Prometheus: per SLO, group `slo:<name>:base`
  with the base recordings exactly as single mode writes them (no cluster label: the
  cluster's external label adds it on the way out) and SLOMetricAbsent; then the threshold
  alerts of scope cluster. All of it must keep working when the global layer is down.
- The global file, loaded by the global evaluator: per SLO, the base recordings summed
  across clusters, then every window, the period, objective, budget and burn alert as
  single mode builds them, but from those sums: it never reads raw series. A global SLO's
  sums exist only while every listed cluster reports (a partial sum would be a rosier
  SLI); SLOClusterMissing names the cluster that stopped. Then the global threshold alerts.
"""

from __future__ import annotations

from dataclasses import replace

from rulegen import naming, promql
from rulegen.model import SLO, Model
from rulegen.rules import (
    ABSENT_FOR,
    Alerting,
    Base,
    Group,
    Recording,
    Rule,
    absent_alert,
    alert_annotations,
    base_recordings,
    common_labels,
    identity_matchers,
    threshold_groups,
    window_groups,
)
from rulegen.sli.base import aggregate

# Thanos Ruler: fail the evaluation when a store does not answer, rather than record or
# alert on a partial sum. Every global rule feeds an alert or the budget, so all abort.
THANOS_STRATEGY = "abort"


def cluster_groups(model: Model) -> tuple[Group, ...]:
    out = [
        Group(
            naming.base_group(slo.name),
            None,
            (*base_recordings(model, slo), absent_alert(model, slo)),
        )
        for slo in model.slos
    ]
    return (*out, *threshold_groups(model, model.alerts_in("cluster")))


def global_groups(model: Model) -> tuple[Group, ...]:
    out: list[Group] = []
    for slo in model.slos:
        base = Base(
            naming.global_error_events(slo.base), naming.global_total_events(slo.base), raw=False
        )
        grouped = bool(model.topology.series_labels(slo.sli.group_by, slo.scope))
        out += window_groups(model, slo, base, global_base(model, slo), [], grouped=grouped)
    if model.slos:
        out.append(Group(naming.clusters_group(model.name), None, (cluster_missing(model),)))
    out += threshold_groups(model, model.alerts_in("global"), ":global")
    return tuple(out)


def for_evaluator(model: Model, groups: tuple[Group, ...]) -> tuple[Group, ...]:
    """The global groups as the evaluator takes them: Thanos Ruler's with their partial
    response strategy (promtool refuses that key, so the rules file goes without: it is
    also Thanos' default)."""
    if model.topology.evaluator != "thanos":
        return groups
    return tuple(replace(g, partial_response_strategy=THANOS_STRATEGY) for g in groups)


def global_base(model: Model, slo: SLO) -> list[Rule]:
    """The clusters' base recordings summed: per cluster for scope cluster, else across
    all of them, and then only while every listed cluster reports."""
    ident = identity_matchers(model, slo)
    per_cluster = slo.scope == "cluster"
    group_by = model.topology.series_labels(slo.sli.group_by, slo.scope)
    gate = "" if per_cluster else f" and on() ({every_cluster(model, slo)})"
    labels = common_labels(model, slo)
    return [
        Recording(
            naming.global_error_events(slo.base),
            aggregate(f"{naming.error_events(slo.base)}{{{ident}}}", group_by) + gate,
            labels,
        ),
        Recording(
            naming.global_total_events(slo.base),
            aggregate(f"{naming.total_events(slo.base)}{{{ident}}}", group_by) + gate,
            labels,
        ),
    ]


def every_cluster(model: Model, slo: SLO) -> str:
    """True (a sample) while every cluster that measures the SLO (its `clusters`, else all
    listed) sends its total; other clusters (a DR region) still add to the sums but are
    not waited for."""
    t, clusters = model.topology, slo.clusters
    listed = promql.string("|".join(promql.regex_literal(c) for c in clusters))
    reporting = (
        f"{naming.total_events(slo.base)}{{{identity_matchers(model, slo)}, "
        f"{t.cluster_label}=~{listed}}}"
    )
    return f"count(group by ({t.cluster_label}) ({reporting})) >= {len(clusters)}"


def cluster_missing(model: Model) -> Alerting:
    """One alert per listed cluster that sends none of the spec's base recordings."""
    t, label = model.topology, model.topology.cluster_label
    total = naming.total_events(model.slos[0].base)
    spec = f"{naming.LABEL_SLO_SPEC}={promql.string(model.name)}"
    expr = " or ".join(f"absent({total}{{{spec}, {label}={promql.string(c)}}})" for c in t.clusters)
    cluster = f"{{{{ $labels.{label} }}}}"
    return Alerting(
        alert=naming.CLUSTER_MISSING_ALERT,
        expr=expr,
        for_=ABSENT_FOR,
        labels=(
            (naming.LABEL_SLO_SPEC, model.name),
            (naming.LABEL_SEVERITY, t.missing_severity),
            *model.labels,
        ),
        annotations=alert_annotations(
            f"Cluster {cluster} sends no SLO data of spec {model.name}.",
            f"No {total} series of spec {model.name} arrive from {label} {cluster} "
            "(listed in topology.clusters): while it is missing, the global SLOs' error "
            "ratios are absent, so their burn-rate alerts cannot fire. Check that cluster's "
            "Prometheus and what sends its series (remote_write, federation, sidecar).",
            t.missing_runbook_url,
        ),
    )
