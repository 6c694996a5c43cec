"""Pure: query results -> the report's figures. No I/O, no formatting for humans.

An SLO whose error-ratio query returns nothing (no events, or no series) has no data:
its attainment is None, never 100 %. Budget spent is the period's error ratio over the
error budget (1 - objective); the burn-down spends it step by step, so its last point is
the headline figure up to how the steps' edges are sampled.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rulegen import naming
from rulegen.report.client import Point, Series
from rulegen.report.queries import Plan, Query, SLOQueries, Window

Results = Mapping[Query, Sequence[Series]]

# Samples of one ALERTS series further apart than Prometheus' lookback (5m) mean the
# alert resolved in between: two firing intervals, not one.
FIRING_GAP = 300.0


@dataclass(frozen=True)
class Firing:
    """One firing interval of a burn-rate alert: from its first to its last firing sample."""

    labels: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SLOFigures:
    queries: SLOQueries
    error_ratio: float | None  # None: no data in the period
    burndown: tuple[Point, ...]  # (time, share of the budget remaining), from the start
    firings: tuple[Firing, ...]

    @property
    def budget(self) -> float:
        return float(self.queries.slo.budget)

    @property
    def attained(self) -> float | None:
        return None if self.error_ratio is None else 1 - self.error_ratio

    @property
    def budget_spent(self) -> float | None:
        return None if self.error_ratio is None else self.error_ratio / self.budget

    @property
    def budget_remaining(self) -> float | None:
        spent = self.budget_spent
        return None if spent is None else 1 - spent

    @property
    def met(self) -> bool | None:
        attained = self.attained
        return None if attained is None else Decimal(repr(attained)) >= self.queries.slo.target


@dataclass(frozen=True)
class Row:
    labels: tuple[str, ...]
    value: float


@dataclass(frozen=True)
class Table:
    query: Query
    columns: tuple[str, ...]  # the label columns; the value column is named by the section
    rows: tuple[Row, ...]

    def total(self) -> float:
        return sum(r.value for r in self.rows)

    def where(self, **labels: str) -> tuple[Row, ...]:
        index = {c: i for i, c in enumerate(self.columns)}
        return tuple(
            r for r in self.rows if all(r.labels[index[k]] == v for k, v in labels.items())
        )


@dataclass(frozen=True)
class Scalar:
    query: Query
    value: float | None  # None: no data


# Audit actions the compliance highlights count, as the exporter's example config names
# them (its allow-list is configurable; every counted action is in the audit table anyway).
PRODUCTION_DEPLOY_ACTION = "deployment.trigger"
FAILED_AUTH_ACTION = "auth.failed"


@dataclass(frozen=True)
class Trigger:
    """A capacity figure next to the operations guide's scaling trigger for it."""

    what: str
    query: Query
    value: float | None
    threshold: float
    percent: bool  # value and threshold are shares (0.7 = 70 %)
    action: str

    @property
    def reached(self) -> bool | None:
        return None if self.value is None else self.value >= self.threshold


@dataclass(frozen=True)
class Report:
    spec: str
    prometheus: str
    window: Window
    slos: tuple[SLOFigures, ...]
    deployments: Table
    deploy_p95: Table
    rollbacks: Table
    rollback_mean: Table
    rollback_p95: Table
    audit: Table
    backup_max_age: Table
    deploys_per_day: Scalar
    deploys_daily: tuple[Point, ...]
    deploys_daily_query: Query | None
    templates: Scalar
    capacity: tuple[Trigger, ...]
    queries: tuple[Query, ...]

    @property
    def production_deployments(self) -> float | None:
        return _audit_count(self.audit, action=PRODUCTION_DEPLOY_ACTION, environment="production")

    @property
    def failed_authentications(self) -> float | None:
        return _audit_count(self.audit, action=FAILED_AUTH_ACTION)

    def ref(self, query: Query) -> int:
        """The query's number in the appendix (1-based)."""
        return self.queries.index(query) + 1


def _audit_count(audit: Table, **labels: str) -> float | None:
    # No audit series at all is "no data"; series without this action are 0 events.
    return sum(r.value for r in audit.where(**labels)) if audit.rows else None


def capacity(results: Results, plan: Plan) -> tuple[Trigger, ...]:
    """The guide's Scaling Triggers (CPU 70 %, memory 75 %, connections 80, queue 10)."""
    cpu, memory, queue = (
        scalar(results, q) for q in (plan.cpu_peak, plan.memory_peak, plan.queue_peak)
    )
    db = table(results, plan.db_connections_peak, ("target",))
    out = [
        Trigger("CPU usage, peak", plan.cpu_peak, cpu.value, 0.70, True, "add nodes"),
        Trigger("Memory usage, peak", plan.memory_peak, memory.value, 0.75, True, "add nodes"),
    ]
    name, pool = "Database connections, peak", "increase pool"
    for row in db.rows:
        out.append(Trigger(f"{name} ({row.labels[0]})", db.query, row.value, 80, False, pool))
    if not db.rows:
        out.append(Trigger(name, db.query, None, 80, False, pool))
    out.append(
        Trigger(
            "Deployment queue, peak", plan.queue_peak, queue.value, 10, False, "scale workflows"
        )
    )
    return tuple(out)


def scalar(results: Results, query: Query) -> Scalar:
    series = results[query]
    return Scalar(query, sum(s.value for s in series) if series else None)


def table(results: Results, query: Query, columns: tuple[str, ...]) -> Table:
    rows = [Row(tuple(s.labels.get(c, "") for c in columns), s.value) for s in results[query]]
    return Table(query, columns, tuple(sorted(rows, key=lambda r: r.labels)))


def summed_points(series: Iterable[Series]) -> tuple[Point, ...]:
    """Points of several series added up per timestamp, in time order."""
    by_time: dict[float, float] = {}
    for s in series:
        for t, v in s.points:
            by_time[t] = by_time.get(t, 0.0) + v
    return tuple(sorted(by_time.items()))


def burndown(
    errors: Sequence[Point], totals: Sequence[Point], budget: float, start: float
) -> tuple[Point, ...]:
    """Share of the period's budget left after each step: 1 - errors so far / allowed errors.

    Allowed errors are the budget times every event of the whole period, so the curve only
    falls, and ends where the headline figure does.
    """
    allowed = budget * sum(v for _, v in totals)
    if allowed <= 0:
        return ()
    spent = itertools.accumulate(v for _, v in errors)
    return ((start, 1.0), *((t, 1 - s / allowed) for (t, _), s in zip(errors, spent, strict=True)))


def _alert_labels(labels: Mapping[str, str]) -> str:
    severity = labels.get(naming.LABEL_SEVERITY, "")
    long, short = labels.get(naming.LABEL_LONG_WINDOW), labels.get(naming.LABEL_SHORT_WINDOW)
    windows = f" {long}/{short}" if long and short else ""
    return f"{severity}{windows}".strip() or "-"


def firings(series: Iterable[Series], gap: float = FIRING_GAP) -> tuple[Firing, ...]:
    """Firing intervals of each ALERTS series: runs of samples no more than `gap` apart."""
    out: list[Firing] = []
    for s in series:
        label = _alert_labels(s.labels)
        times = [t for t, _ in s.points]
        run_start = prev = times[0]
        for t in times[1:]:
            if t - prev > gap:
                out.append(Firing(label, run_start, prev))
                run_start = t
            prev = t
        out.append(Firing(label, run_start, prev))
    return tuple(sorted(out, key=lambda f: (f.start, f.labels)))


def slo_figures(results: Results, q: SLOQueries, window: Window) -> SLOFigures:
    ratio = results[q.error_ratio]
    error_ratio = ratio[0].value if ratio else None
    chart: tuple[Point, ...] = ()
    if error_ratio is not None:
        chart = burndown(
            summed_points(results[q.errors_per_step]),
            summed_points(results[q.total_per_step]),
            float(q.slo.budget),
            window.start,
        )
    return SLOFigures(q, error_ratio, chart, firings(results[q.alerts]))


def build(spec: str, prometheus: str, plan: Plan, results: Results) -> Report:
    env = ("environment",)
    return Report(
        spec=spec,
        prometheus=prometheus,
        window=plan.window,
        slos=tuple(slo_figures(results, q, plan.window) for q in plan.slos),
        deployments=table(results, plan.deployments, ("environment", "result")),
        deploy_p95=table(results, plan.deploy_p95, env),
        rollbacks=table(results, plan.rollbacks, ("environment", "mechanism", "result")),
        rollback_mean=table(results, plan.rollback_mean, env),
        rollback_p95=table(results, plan.rollback_p95, env),
        audit=table(results, plan.audit, ("action", "environment")),
        backup_max_age=table(results, plan.backup_max_age, ("cluster", "namespace", "cronjob")),
        deploys_per_day=scalar(results, plan.deploys_per_day),
        deploys_daily=summed_points(results[plan.deploys_daily]) if plan.deploys_daily else (),
        deploys_daily_query=plan.deploys_daily,
        templates=scalar(results, plan.templates),
        capacity=capacity(results, plan),
        queries=plan.all(),
    )
