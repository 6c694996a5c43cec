"""30 days of made-up IDP history: the events, the series Prometheus would have scraped
from them, and the figures a report must show, computed here in plain Python.

Everything is sampled on one 5-minute grid from START to END inclusive, the spec's
scrape interval (history.yaml). Events fall between grid points (at half seconds), so a
counter's value at a sample is the number of events up to it without ambiguity. Every
counter resets once (an exporter restart at RESET): the counts must not change.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

DAY, HOUR, MIN = 86_400, 3_600, 60
STEP = 5 * MIN
END = 1_767_225_600  # 2026-01-01T00:00:00Z
START = END - 30 * DAY
GRID = range(START, END + 1, STEP)
RESET = START + 12 * DAY + 7 * HOUR + 1234.5
SPEC_NAME = "idp"  # metadata.name in history.yaml: the slo_spec label of its alerts
ALERT_EVAL = 60  # rule evaluation interval behind the ALERTS samples

DEPLOY_BUCKETS = (300.0, 600.0, 900.0, 1800.0, 3600.0)
ROLLBACK_BUCKETS = (60.0, 120.0, 300.0, 600.0)
CLUSTER = "prod-eu"
# (environment, template, deployments per hour)
DEPLOY_STREAMS = (
    ("production", "deploy-app", 0.6),
    ("staging", "deploy-app", 1.0),
    ("staging", "deploy-infra", 0.2),
)
BURST = (START + 15 * DAY + 8 * HOUR, START + 15 * DAY + 10 * HOUR)  # production deploys fail
OUTAGES = (  # the health check fails: [from, to)
    (START + 5 * DAY + 3 * HOUR, START + 5 * DAY + 5 * HOUR),
    (START + 22 * DAY + 14 * HOUR, START + 22 * DAY + 14 * HOUR + 30 * MIN),
)
MISSED_BACKUP_DAY = 19

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Deploy:
    t: float
    environment: str
    template: str
    result: str
    duration: float


@dataclass(frozen=True)
class Rollback:
    t: float
    environment: str
    mechanism: str
    result: str
    duration: float


@dataclass(frozen=True)
class Firing:
    """An ALERTS series while firing (or pending): samples every ALERT_EVAL from..to."""

    labels: Labels
    start: int
    end: int


@dataclass
class Family:
    """One metric family: its type and its series by (sample name, labels)."""

    kind: str
    series: dict[tuple[str, Labels], list[tuple[float, float]]] = field(default_factory=dict)


def _deploys(rng: random.Random) -> list[Deploy]:
    out = []
    for hour in range(START, END, HOUR):
        for env, template, per_hour in DEPLOY_STREAMS:
            if rng.random() >= per_hour:
                continue
            t = hour + rng.randrange(1, HOUR) + 0.5
            failing = env == "production" and BURST[0] <= t < BURST[1]
            roll = rng.random()
            result = "failed" if failing or roll < 0.03 else "error" if roll < 0.04 else "succeeded"
            slow = 400 if env == "production" else 0
            duration = rng.uniform(60, 700) + slow + (3000 if rng.random() < 0.02 else 0)
            out.append(Deploy(t, env, template, result, round(duration, 1)))
    for t in range(BURST[0] + 150, BURST[1], STEP):  # the burst: a retry every 5 minutes
        out.append(Deploy(t + 0.5, "production", "deploy-app", "failed", 0.0))
    return sorted(out, key=lambda d: d.t)


ROLLBACKS = (
    Rollback(BURST[0] + 20 * MIN + 0.5, "production", "workflow", "succeeded", 250.0),
    Rollback(BURST[0] + 80 * MIN + 0.5, "production", "workflow", "succeeded", 410.0),
    Rollback(START + 3 * DAY + 0.5, "production", "argocd", "succeeded", 45.0),
    Rollback(START + 9 * DAY + 0.5, "staging", "workflow", "failed", 95.0),
    Rollback(START + 25 * DAY + 0.5, "staging", "workflow", "succeeded", 130.0),
)


def _auth_failures(rng: random.Random) -> list[tuple[float, str]]:
    return sorted(
        (START + rng.randrange(DAY, 30 * DAY - HOUR) + 0.5, rng.choice(("production", "staging")))
        for _ in range(37)
    )


def _backups() -> dict[str, list[float]]:
    """Successful run times of two backup CronJobs (from a day before the period on)."""
    daily = [START + d * DAY + 2 * HOUR + 17 * MIN for d in range(-1, 30) if d != MISSED_BACKUP_DAY]
    six_hourly = [START + h * 6 * HOUR + 5 * MIN for h in range(-1, 120)]
    return {"postgres-backup": daily, "redis-backup": six_hourly}


def _queue(t: int) -> float:
    spike = START + 15 * DAY + 9 * HOUR
    if spike <= t < spike + 20 * MIN:
        return 12.0
    return float((t // STEP) % 5)


def _connections(t: int, database: str) -> float:
    hour = (t % DAY) // HOUR
    base = 30 if database == "backstage" else 4
    return float(base + (hour % 12) + (20 if t == START + 17 * DAY + 11 * HOUR else 0))


class History:
    def __init__(self, seed: int = 16) -> None:
        rng = random.Random(seed)
        self.deploys = _deploys(rng)
        self.rollbacks = ROLLBACKS
        self.auth_failures = _auth_failures(rng)
        self.backups = _backups()
        self.firings = self._firings()

    def _firings(self) -> tuple[Firing, ...]:
        def burn(slo: str, severity: str, long: str, short: str) -> Labels:
            return (
                ("alertname", "ErrorBudgetBurn"),
                ("alertstate", "firing"),
                ("long_window", long),
                ("severity", severity),
                ("short_window", short),
                ("slo", slo),
                ("slo_spec", SPEC_NAME),
            )

        outage = OUTAGES[0]
        return (
            Firing(burn("deployment-success", "critical", "1h", "20m"), BURST[0] + 20 * MIN, BURST[0] + 2 * HOUR + 40 * MIN),
            Firing(burn("deployment-success", "warning", "1d", "2h"), BURST[0] + 70 * MIN, BURST[0] + 9 * HOUR),
            Firing(burn("deployment-success", "critical", "1h", "20m"), START + 27 * DAY, START + 27 * DAY + 25 * MIN),
            Firing(burn("backstage-availability", "critical", "1h", "20m"), outage[0] + 6 * MIN, outage[1] + 13 * MIN),
            # Not burn alerts of these SLOs: pending, another alert, another SLO's name, and
            # another spec's SLO that shares a name with one of ours.
            Firing((*burn("deployment-success", "critical", "1h", "20m")[:-1], ("slo_spec", "other")), START + 6 * DAY, START + 6 * DAY + HOUR),
            Firing((("alertname", "ErrorBudgetBurn"), ("alertstate", "pending"), ("slo", "time-to-deploy")), START + 2 * DAY, START + 2 * DAY + 4 * MIN),
            Firing((("alertname", "SLOMetricAbsent"), ("alertstate", "firing"), ("slo", "deployment-success")), START + 4 * DAY, START + 4 * DAY + HOUR),
        )  # fmt: skip

    # -- the series ---------------------------------------------------------------------

    def families(self) -> dict[str, Family]:
        fams: dict[str, Family] = {}
        self._counters(fams)
        self._gauges(fams)
        alerts = fams.setdefault("ALERTS", Family("gauge"))
        for f in self.firings:
            points = alerts.series.setdefault(("ALERTS", f.labels), [])
            points += [(t, 1.0) for t in range(f.start, f.end + 1, ALERT_EVAL)]
        return fams

    def _counters(self, fams: dict[str, Family]) -> None:
        deploys = Counters()
        for d in self.deploys:
            labels = {"cluster": CLUSTER, "environment": d.environment, "template": d.template}
            deploys.add("idp_deployments_total", {**labels, "result": d.result}, d.t)
            if d.result == "succeeded":
                deploys.observe(
                    "idp_deployment_duration_seconds", labels, d.t, d.duration, DEPLOY_BUCKETS
                )
            deploys.add(
                "idp_audit_events_total",
                {"target": "idp", "action": "deployment.trigger", "environment": d.environment},
                d.t,
            )
        for r in self.rollbacks:
            labels = {"cluster": CLUSTER, "environment": r.environment, "mechanism": r.mechanism}
            deploys.add("idp_rollbacks_total", {**labels, "result": r.result}, r.t)
            deploys.observe(
                "idp_rollback_duration_seconds", labels, r.t, r.duration, ROLLBACK_BUCKETS
            )
            deploys.add(
                "idp_audit_events_total",
                {"target": "idp", "action": "deployment.rollback", "environment": r.environment},
                r.t,
            )
        for t, env in self.auth_failures:
            deploys.add(
                "idp_audit_events_total",
                {"target": "idp", "action": "auth.failed", "environment": env},
                t,
            )
        deploys.sample_into(fams)  # fmt: skip

    def _gauges(self, fams: dict[str, Family]) -> None:
        def gauge(name: str, labels: Labels, value: Iterable[float]) -> None:
            fams.setdefault(name, Family("gauge")).series[(name, labels)] = list(
                zip(GRID, value, strict=True)
            )

        up = [0.0 if any(a <= t < b for a, b in OUTAGES) else 1.0 for t in GRID]
        gauge("idp_probe_success", (("target", "backstage"),), up)
        for cronjob, runs in self.backups.items():
            labels = (("cluster", CLUSTER), ("cronjob", cronjob), ("namespace", "backstage"))
            gauge(
                "idp_backup_last_success_timestamp_seconds",
                labels,
                [max(r for r in runs if r <= t) for t in GRID],
            )
        for db in ("backstage", "postgres"):
            gauge(
                "idp_postgres_connections",
                (("database", db), ("target", "idp")),
                [_connections(t, db) for t in GRID],
            )
        for phase in ("Pending", "Running"):
            labels = (("cluster", CLUSTER), ("namespace", "argo"), ("phase", phase))
            gauge("idp_workflows", labels, [_queue(t) if phase == "Pending" else 7.0 for t in GRID])

    def openmetrics(self) -> str:
        lines = []
        for name, fam in sorted(self.families().items()):
            base = name.removesuffix("_total") if fam.kind == "counter" else name
            lines.append(f"# TYPE {base} {fam.kind}")
            for (sample, labels), points in sorted(fam.series.items()):
                sel = ",".join(f'{k}="{v}"' for k, v in labels)
                lines += [f"{sample}{{{sel}}} {v!r} {t}" for t, v in points]
        return "\n".join(lines) + "\n# EOF\n"


class Counters:
    """Counters (and histograms) as events, sampled on GRID with one reset at RESET."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, Labels], list[tuple[float, float]]] = defaultdict(list)

    def add(self, name: str, labels: dict[str, str], t: float, amount: float = 1.0) -> None:
        self.events[(name, tuple(sorted(labels.items())))].append((t, amount))

    def observe(
        self, name: str, labels: dict[str, str], t: float, value: float, buckets: tuple[float, ...]
    ) -> None:
        for le in (*buckets, float("inf")):
            key = "+Inf" if le == float("inf") else f"{le:g}"
            self.add(f"{name}_bucket", {**labels, "le": key}, t, 1.0 if value <= le else 0.0)
        self.add(f"{name}_count", labels, t)
        self.add(f"{name}_sum", labels, t, value)

    def sample_into(self, fams: dict[str, Family]) -> None:
        for (name, labels), unordered in sorted(self.events.items()):
            events = sorted(unordered)
            family, kind = name, "counter"
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix):
                    family, kind = name.removesuffix(suffix), "histogram"
            points = []
            i, total, since_reset = 0, 0.0, 0.0
            for t in GRID:
                while i < len(events) and events[i][0] <= t:
                    total += events[i][1]
                    since_reset += events[i][1] if events[i][0] > RESET else 0.0
                    i += 1
                points.append((t, since_reset if t > RESET else total))
            fams.setdefault(family, Family(kind)).series[(name, labels)] = points


# -- what the report must say, computed from the events ---------------------------------


def quantile(q: float, observations: Iterable[float], bounds: tuple[float, ...]) -> float | None:
    """histogram_quantile as Prometheus documents it: linear within the bucket holding the
    rank, the first bucket starting at 0, the +Inf bucket answered by the highest bound."""
    values = list(observations)
    if not values:
        return None
    cumulative = [sum(v <= b for v in values) for b in bounds]
    rank = q * len(values)
    for i, (upper, count) in enumerate(zip(bounds, cumulative, strict=True)):
        if count >= rank:
            lower, before = (0.0, 0) if i == 0 else (bounds[i - 1], cumulative[i - 1])
            return lower + (upper - lower) * (rank - before) / (count - before)
    return bounds[-1]


@dataclass(frozen=True)
class Expected:
    """The report's figures, from the events (not from Prometheus)."""

    h: History

    def error_ratio(self, slo: str) -> float | None:
        deploys = self.h.deploys
        if slo == "backstage-availability":
            down = [any(a <= t < b for a, b in OUTAGES) for t in GRID]
            return sum(down) / len(down)
        if slo == "deployment-success":
            return sum(d.result != "succeeded" for d in deploys) / len(deploys)
        if slo == "time-to-deploy":
            ok = [d for d in deploys if d.result == "succeeded"]
            return sum(d.duration > 900 for d in ok) / len(ok)
        if slo == "rollback-time":
            return sum(r.duration > 300 for r in self.h.rollbacks) / len(self.h.rollbacks)
        return None  # api-latency: never generated

    def firings(self, slo: str) -> list[tuple[str, float, float]]:
        out = []
        for f in self.h.firings:
            labels = dict(f.labels)
            wanted = ("ErrorBudgetBurn", "firing", slo)
            if (labels["alertname"], labels["alertstate"], labels["slo"]) == wanted and (
                labels.get("slo_spec") == SPEC_NAME
            ):
                name = f"{labels['severity']} {labels['long_window']}/{labels['short_window']}"
                out.append((name, float(f.start), float(f.end)))
        return sorted(out, key=lambda x: (x[1], x[0]))

    def deployments(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = defaultdict(float)
        for d in self.h.deploys:
            out[(d.environment, d.result)] += 1
        return dict(out)

    def deploy_p95(self) -> dict[str, float | None]:
        return {
            env: quantile(
                0.95,
                (d.duration for d in self.h.deploys if d.environment == env and d.result == "succeeded"),
                DEPLOY_BUCKETS,
            )
            for env in ("production", "staging")
        }  # fmt: skip

    def rollbacks(self) -> dict[tuple[str, str, str], float]:
        out: dict[tuple[str, str, str], float] = defaultdict(float)
        for r in self.h.rollbacks:
            out[(r.environment, r.mechanism, r.result)] += 1
        return dict(out)

    def rollback_mean(self) -> dict[str, float]:
        envs = sorted({r.environment for r in self.h.rollbacks})
        return {
            e: sum(r.duration for r in self.h.rollbacks if r.environment == e)
            / sum(r.environment == e for r in self.h.rollbacks)
            for e in envs
        }

    def rollback_p95(self) -> dict[str, float | None]:
        envs = sorted({r.environment for r in self.h.rollbacks})
        return {
            e: quantile(
                0.95, (r.duration for r in self.h.rollbacks if r.environment == e), ROLLBACK_BUCKETS
            )
            for e in envs
        }

    def audit(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = defaultdict(float)
        for d in self.h.deploys:
            out[("deployment.trigger", d.environment)] += 1
        for r in self.h.rollbacks:
            out[("deployment.rollback", r.environment)] += 1
        for _, env in self.h.auth_failures:
            out[("auth.failed", env)] += 1
        return dict(out)

    def backup_max_age(self) -> dict[str, float]:
        return {
            job: max(t - max(r for r in runs if r <= t) for t in GRID)
            for job, runs in self.h.backups.items()
        }

    def deploys_per_day(self) -> float:
        return len(self.h.deploys) / 30

    def templates(self) -> int:
        return len({d.template for d in self.h.deploys if d.result == "succeeded"})

    def db_connections_peak(self) -> float:
        return max(_connections(t, "backstage") + _connections(t, "postgres") for t in GRID)

    def queue_peak(self) -> float:
        return max(_queue(t) for t in GRID)
