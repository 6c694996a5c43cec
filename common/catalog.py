"""Every metric family idp-exporter can emit: pure data, the contract both CLIs share.

The exporter's runtime emits only what is declared here, docs/metrics.md is generated
from it, and idp-rulegen's lint checks against it that rules and dashboards read metrics
that exist. Nothing in this module does I/O or imports anything else of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Family:
    """One metric family. `name` is the exposed base name (counters keep `_total`)."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    def series_names(self) -> tuple[str, ...]:
        """Names of the series this family exposes in the Prometheus text format."""
        if self.kind is Kind.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum")
        if self.kind is Kind.COUNTER:
            # OpenMetrics also exposes `<base>_created`; the text format only `_total`.
            return (self.name,)
        return (self.name,)


# Why these buckets: the guide's SLO thresholds (time to deploy 15 min = 900 s,
# rollback 5 min = 300 s, API P95 500 ms) must each be an exact bucket boundary so a
# latency SLI can count "fast enough" events without interpolation.
DEPLOYMENT_BUCKETS = (60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0, 7200.0)
ROLLBACK_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0)
PROBE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

FAMILIES: tuple[Family, ...] = (
    # Argo Workflows / ArgoCD (Kubernetes watch API)
    Family(
        "idp_deployments_total",
        Kind.COUNTER,
        ("cluster", "environment", "template", "result"),
        "Completed deployment workflows, each attempt counted once (a retry is a new attempt); result is succeeded, failed or error.",
    ),
    Family(
        "idp_deployment_duration_seconds",
        Kind.HISTOGRAM,
        ("cluster", "environment", "template"),
        "finishedAt - startedAt of succeeded deployment workflows.",
        DEPLOYMENT_BUCKETS,
    ),
    Family(
        "idp_rollbacks_total",
        Kind.COUNTER,
        ("cluster", "environment", "mechanism", "result"),
        "Rollbacks seen; mechanism is workflow (Argo rollback template) or argocd (history revert).",
    ),
    Family(
        "idp_rollback_duration_seconds",
        Kind.HISTOGRAM,
        ("cluster", "environment", "mechanism"),
        "Duration of rollbacks.",
        ROLLBACK_BUCKETS,
    ),
    Family(
        "idp_workflows",
        Kind.GAUGE,
        ("cluster", "namespace", "phase"),
        "Workflows currently in each phase, in the watched namespaces (Pending is the queue).",
    ),
    Family(
        "idp_backup_last_success_timestamp_seconds",
        Kind.GAUGE,
        ("cluster", "namespace", "cronjob"),
        "status.lastSuccessfulTime of configured backup CronJobs, in Unix seconds.",
    ),
    # HTTP probes (and every source's reachability, under the source's name)
    Family(
        "idp_probe_success",
        Kind.GAUGE,
        ("target",),
        "1 if the last probe of the target passed, else 0.",
    ),
    Family(
        "idp_probes_total",
        Kind.COUNTER,
        ("target", "result"),
        "Probes run; result is success or failure.",
    ),
    Family(
        "idp_probe_duration_seconds",
        Kind.HISTOGRAM,
        ("target",),
        "Probe round-trip time.",
        PROBE_BUCKETS,
    ),
    # PostgreSQL
    Family(
        "idp_postgres_up",
        Kind.GAUGE,
        ("target",),
        "1 if the last PostgreSQL query round succeeded, else 0.",
    ),
    Family(
        "idp_postgres_connections",
        Kind.GAUGE,
        ("target", "database"),
        "Backends connected, per database (pg_stat_database.numbackends).",
    ),
    Family(
        "idp_postgres_max_connections",
        Kind.GAUGE,
        ("target",),
        "The server's max_connections setting.",
    ),
    Family(
        "idp_audit_events_total",
        Kind.COUNTER,
        ("target", "action", "environment"),
        "audit_log rows committed since the exporter started, by allow-listed action.",
    ),
    Family(
        "idp_audit_oldest_event_age_seconds",
        Kind.GAUGE,
        ("target",),
        "Age of the oldest audit_log row (the guide deletes rows after 90 days).",
    ),
    # Redis
    Family("idp_redis_up", Kind.GAUGE, ("target",), "1 if the last Redis INFO succeeded, else 0."),
    Family(
        "idp_redis_keyspace_hits_total",
        Kind.COUNTER,
        ("target",),
        "Redis keyspace hits (INFO stats keyspace_hits).",
    ),
    Family(
        "idp_redis_keyspace_misses_total",
        Kind.COUNTER,
        ("target",),
        "Redis keyspace misses (INFO stats keyspace_misses).",
    ),
    Family("idp_redis_connected_clients", Kind.GAUGE, ("target",), "Redis connected clients."),
    Family("idp_redis_memory_used_bytes", Kind.GAUGE, ("target",), "Redis used_memory."),
    Family(
        "idp_redis_memory_max_bytes", Kind.GAUGE, ("target",), "Redis maxmemory (0 means no limit)."
    ),
    # The exporter itself
    Family(
        "idp_exporter_source_up",
        Kind.GAUGE,
        ("source",),
        "1 if the source's last refresh succeeded, else 0.",
    ),
    Family(
        "idp_exporter_source_errors_total",
        Kind.COUNTER,
        ("source", "reason"),
        "Source refresh failures by reason (timeout, connection, auth, parse, other).",
    ),
    Family(
        "idp_exporter_source_last_success_timestamp_seconds",
        Kind.GAUGE,
        ("source",),
        "Unix time of the source's last successful refresh.",
    ),
    Family(
        "idp_exporter_source_refresh_duration_seconds",
        Kind.GAUGE,
        ("source",),
        "Duration of the source's last refresh.",
    ),
    Family(
        "idp_exporter_build_info",
        Kind.GAUGE,
        ("version",),
        "Always 1; the version label says which build is running.",
    ),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}


def series_names() -> frozenset[str]:
    """Every series name the exporter can expose (histograms expand to _bucket/_count/_sum)."""
    return frozenset(n for f in FAMILIES for n in f.series_names())


def family_of(series_name: str) -> Family | None:
    """The family a series name belongs to (`x_bucket` -> histogram `x`), or None."""
    if series_name in BY_NAME:
        return BY_NAME[series_name]
    for suffix in ("_bucket", "_count", "_sum"):
        base = series_name.removesuffix(suffix)
        if base != series_name and base in BY_NAME and BY_NAME[base].kind is Kind.HISTOGRAM:
            return BY_NAME[base]
    return None
