"""Every PromQL query behind the report, as named data, so the appendix can list them all.

All period queries read raw series (counters with increase(), gauges with subqueries), not
the recording rules: a report must work for a period in which the rules were not yet
deployed, and increase() over the period counts every event exactly once. The SLI
expressions come from rulegen.sli, the same ones the recording rules are built from.
Instant queries are evaluated at the period's end; range queries step from the period's
start + step to its end, each point covering the step before it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from common.durations import DAY, MINUTE, format_seconds
from rulegen import promql
from rulegen.model import SLO, Model

CHART_POINTS = 720  # 30d at 1h resolution: smooth enough, far below the 11,000-point cap
NODE_STEP = 5 * MINUTE  # rate(node_cpu_seconds_total[5m]) needs no finer subquery step


@dataclass(frozen=True)
class Window:
    """The reported period [start, end] in Unix seconds, and the charts' step."""

    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start

    @property
    def step(self) -> int:
        """Chart resolution: period/720 in whole minutes, at least one minute."""
        return max(MINUTE, self.seconds // CHART_POINTS // MINUTE * MINUTE)

    @property
    def days(self) -> float:
        return self.seconds / DAY


def parse_end(text: str | None, now: float | None = None) -> int:
    """The period's end: Unix seconds or RFC 3339 with a zone; None is now, to the minute
    (so two runs a second apart ask the same queries). ValueError if unreadable."""
    if text is None:
        return int(time.time() if now is None else now) // MINUTE * MINUTE
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("give an RFC 3339 time (2026-03-31T00:00:00Z) or Unix seconds") from None
    if parsed.tzinfo is None:
        raise ValueError("RFC 3339 times need a zone (Z or +01:00)")
    return int(parsed.timestamp())


@dataclass(frozen=True)
class Query:
    title: str
    promql: str
    step: int | None = None  # None: instant query at the end; else a range query
    start: int | None = None  # range queries only: first evaluation time

    @property
    def is_range(self) -> bool:
        return self.step is not None


@dataclass(frozen=True)
class SLOQueries:
    slo: SLO
    error_ratio: Query
    errors_per_step: Query
    total_per_step: Query
    alerts: Query

    def all(self) -> tuple[Query, ...]:
        return (self.error_ratio, self.errors_per_step, self.total_per_step, self.alerts)


@dataclass(frozen=True)
class Plan:
    window: Window
    slos: tuple[SLOQueries, ...]
    deployments: Query
    deploy_p95: Query
    rollbacks: Query
    rollback_mean: Query
    rollback_p95: Query
    audit: Query
    backup_max_age: Query
    deploys_per_day: Query
    deploys_daily: Query | None  # None for periods under two days
    templates: Query
    db_connections_peak: Query
    queue_peak: Query
    cpu_peak: Query
    memory_peak: Query

    def all(self) -> tuple[Query, ...]:
        """Every query, in the order the report shows its figures (the appendix order)."""
        out = [q for s in self.slos for q in s.all()]
        out += [
            self.deployments,
            self.deploy_p95,
            self.rollbacks,
            self.rollback_mean,
            self.rollback_p95,
            self.audit,
            self.backup_max_age,
            self.deploys_per_day,
        ]
        if self.deploys_daily is not None:
            out.append(self.deploys_daily)
        out += [
            self.templates,
            self.db_connections_peak,
            self.queue_peak,
            self.cpu_peak,
            self.memory_peak,
        ]
        return tuple(out)


def _range(title: str, expr: str, window: Window, step: int) -> Query:
    return Query(title, expr, step, window.start + step)


def slo_queries(spec: str, slo: SLO, window: Window) -> SLOQueries:
    """`spec` is metadata.name: with the SLO name it selects this SLO's alerts only."""
    period, step = window.seconds, window.step
    errors, total = slo.sli.error_events(period), slo.sli.total_events(period)
    unit = "probe-seconds" if slo.sli.time_based else "events"
    alert = (
        f"ALERTS{{alertname={promql.string(slo.alert_name)}, slo={promql.string(slo.name)}, "
        f"slo_spec={promql.string(spec)}, "
        f'alertstate="firing"}}[{format_seconds(period)}]'
    )
    return SLOQueries(
        slo=slo,
        error_ratio=Query(
            f"{slo.name}: error ratio over the period",
            f"sum({errors}) / (sum({total}) > 0)",
        ),
        errors_per_step=_range(
            f"{slo.name}: failed {unit} per {format_seconds(step)}",
            f"sum({slo.sli.error_events(step)}) * {step}",
            window,
            step,
        ),
        total_per_step=_range(
            f"{slo.name}: all {unit} per {format_seconds(step)}",
            f"sum({slo.sli.total_events(step)}) * {step}",
            window,
            step,
        ),
        alerts=Query(f"{slo.name}: burn-rate alert samples while firing", alert),
    )


def _quantile(histogram: str, w: str) -> str:
    return f"histogram_quantile(0.95, sum by (environment, le) (increase({histogram}_bucket[{w}])))"


def plan(model: Model, window: Window) -> Plan:
    w = format_seconds(window.seconds)
    # Gauges are sampled at the spec's scrape interval: a finer step sees nothing new.
    every = f"[{w}:{format_seconds(model.scrape_interval)}]"
    node_every = f"[{w}:{format_seconds(NODE_STEP)}]"
    days = format(window.days, "g")
    return Plan(
        window=window,
        slos=tuple(slo_queries(model.name, s, window) for s in model.slos),
        deployments=Query(
            "Deployments by environment and result",
            f"sum by (environment, result) (increase(idp_deployments_total[{w}]))",
        ),
        deploy_p95=Query(
            "Time to deploy, P95 by environment (seconds)",
            _quantile("idp_deployment_duration_seconds", w),
        ),
        rollbacks=Query(
            "Rollbacks by environment, mechanism and result",
            f"sum by (environment, mechanism, result) (increase(idp_rollbacks_total[{w}]))",
        ),
        rollback_mean=Query(
            "Rollback duration, mean by environment (seconds)",
            f"sum by (environment) (increase(idp_rollback_duration_seconds_sum[{w}]))"
            f" / (sum by (environment) (increase(idp_rollback_duration_seconds_count[{w}])) > 0)",
        ),
        rollback_p95=Query(
            "Rollback duration, P95 by environment (seconds)",
            _quantile("idp_rollback_duration_seconds", w),
        ),
        audit=Query(
            "Audit events by action and environment",
            f"sum by (action, environment) (increase(idp_audit_events_total[{w}]))",
        ),
        backup_max_age=Query(
            "Backup age, the largest seen in the period, per CronJob (seconds)",
            "max by (cluster, namespace, cronjob) (max_over_time("
            f"(time() - idp_backup_last_success_timestamp_seconds){every}))",
        ),
        deploys_per_day=Query(
            "Deployment frequency (deployments per day)",
            f"sum(increase(idp_deployments_total[{w}])) / {days}",
        ),
        deploys_daily=_range(
            "Deployments per day",
            "sum(increase(idp_deployments_total[1d]))",
            window,
            DAY,
        )
        if window.seconds >= 2 * DAY
        else None,
        templates=Query(
            "Deployment templates with a successful deployment",
            'count(sum by (template) (increase(idp_deployments_total{result="succeeded"}'
            f"[{w}])) > 0)",
        ),
        db_connections_peak=Query(
            "PostgreSQL connections, peak per server",
            f"max_over_time((sum by (target) (idp_postgres_connections)){every})",
        ),
        queue_peak=Query(
            "Deployment queue (Pending workflows), peak",
            f'max_over_time((sum(idp_workflows{{phase="Pending"}})){every})',
        ),
        cpu_peak=Query(
            "CPU utilisation, peak of the 5m average over all nodes (node_exporter)",
            'max_over_time((1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))'
            f"{node_every})",
        ),
        memory_peak=Query(
            "Memory utilisation, peak over all nodes (node_exporter)",
            "max_over_time((1 - sum(node_memory_MemAvailable_bytes)"
            f" / sum(node_memory_MemTotal_bytes)){node_every})",
        ),
    )
