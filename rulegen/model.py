"""The validated, typed SLO model: what every renderer reads. No dicts past this point.

`build` turns a schema-valid SpecFile into a Model, checking what needs more than one
field: unique names, label collisions, tiers that can never fire, histogram buckets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from exporter import catalog
from rulegen import durations, k8s, naming, promql, spec
from rulegen import slo_dashboards as sd
from rulegen.errors import Issue, SpecError
from rulegen.promql import Selector
from rulegen.windows import (
    DEFAULT_TIERS,
    MAX_PERIOD,
    MIN_PERIOD,
    MIN_SCRAPES_PER_WINDOW,
    AlertClass,
    Burn,
    base_window,
    long_window,
    short_window,
)
from rulegen.yamlload import Document, Path_, json_path

Labels = tuple[tuple[str, str], ...]
Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Ratio:
    errors: Selector
    total: Selector
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class Latency:
    histogram: Selector
    threshold: Decimal  # seconds
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class Probe:
    metric: Selector
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class Raw:
    errors: str  # PromQL with $window
    total: str
    group_by: tuple[str, ...] = ()


SLI = Ratio | Latency | Probe | Raw


@dataclass(frozen=True)
class Tier:
    name: str
    alert: AlertClass
    severity: Severity
    long: int  # seconds
    short: int
    factor: Decimal
    for_: int | None


@dataclass(frozen=True)
class SLO:
    name: str
    service: str
    description: str
    objective: Decimal  # percent, e.g. 99.9
    period: int  # seconds
    sli: SLI
    alert_name: str
    runbook_url: str | None
    alert_labels: Labels
    tiers: tuple[Tier, ...]  # enabled tiers only
    base: int  # base window (seconds)

    @property
    def target(self) -> Decimal:
        return self.objective / 100

    @property
    def budget(self) -> Decimal:
        return 1 - self.target

    def burn(self, tier: Tier) -> Burn:
        return Burn.of(tier.factor, self.budget, tier.long, self.period)

    def alert_windows(self) -> tuple[int, ...]:
        return tuple(sorted({w for t in self.tiers for w in (t.long, t.short)}))

    def windows(self) -> tuple[int, ...]:
        """Every window with an error-ratio rule: base, alert windows, period."""
        return tuple(sorted({self.base, self.period, *self.alert_windows()}))


@dataclass(frozen=True)
class ThresholdAlert:
    name: str
    expr: str
    for_: int | None
    severity: Severity
    labels: Labels
    summary: str
    description: str | None
    runbook_url: str | None


@dataclass(frozen=True)
class Model:
    name: str
    labels: Labels
    scrape_interval: int
    slos: tuple[SLO, ...]
    alerts: tuple[ThresholdAlert, ...]
    dashboards: tuple[spec.Dashboard, ...]
    # None: the spec declares no external metrics, so only idp_/slo: names are checked.
    external_metrics: tuple[str, ...] | None = None
    outputs: spec.Outputs = field(default_factory=spec.Outputs)
    # Where the spec came from, so renderers' findings can be reported as FILE:LINE:COL.
    file: str = ""
    doc: Document | None = field(default=None, compare=False, repr=False)


class _Issues:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Issue] = []

    def add(self, path: Path_, message: str) -> None:
        line, col = self.doc.position(path)
        self.items.append(Issue(line, col, json_path(path), message))


def _seconds(text: str) -> int:
    return durations.parse_seconds(text)


def _threshold(value: str | float) -> Decimal:
    if isinstance(value, str):
        return Decimal(durations.parse_ms(value)) / 1000
    return Decimal(repr(float(value)))


def _selector(text: str) -> Selector:
    return promql.selector(text)


def _check_kind(sel: Selector, kind: catalog.Kind, path: Path_, issues: _Issues) -> None:
    family = catalog.BY_NAME.get(sel.metric)
    if family is not None and family.kind is not kind:
        issues.add(
            path,
            f"{sel.metric} is a {family.kind.value} in the exporter catalog, not a {kind.value}",
        )


def _group_by(
    labels: list[str], spec_labels: dict[str, str], path: Path_, issues: _Issues
) -> tuple[str, ...]:
    seen: set[str] = set()
    for i, label in enumerate(labels):
        if label in naming.RESERVED_LABELS:
            issues.add((*path, i), f"{label!r} is set by idp-rulegen and cannot be grouped by")
        elif label in spec_labels:
            issues.add(
                (*path, i), f"{label!r} is also a metadata.labels key; the two would collide"
            )
        elif label in seen:
            issues.add((*path, i), f"{label!r} is listed twice")
        seen.add(label)
    return tuple(labels)


def _sli(s: spec.SLI, spec_labels: dict[str, str], path: Path_, issues: _Issues) -> SLI:
    if s.ratio is not None:
        p = (*path, "ratio")
        ratio = Ratio(
            _selector(s.ratio.errors),
            _selector(s.ratio.total),
            _group_by(s.ratio.group_by, spec_labels, (*p, "group_by"), issues),
        )
        _check_kind(ratio.errors, catalog.Kind.COUNTER, (*p, "errors"), issues)
        _check_kind(ratio.total, catalog.Kind.COUNTER, (*p, "total"), issues)
        return ratio
    if s.latency is not None:
        p = (*path, "latency")
        latency = Latency(
            _selector(s.latency.histogram),
            _threshold(s.latency.threshold),
            _group_by(s.latency.group_by, spec_labels, (*p, "group_by"), issues),
        )
        _check_histogram(latency, s.latency.buckets, p, issues)
        return latency
    if s.probe is not None:
        p = (*path, "probe")
        probe = Probe(
            _selector(s.probe.metric),
            _group_by(s.probe.group_by, spec_labels, (*p, "group_by"), issues),
        )
        _check_kind(probe.metric, catalog.Kind.GAUGE, (*p, "metric"), issues)
        return probe
    assert s.raw is not None  # the schema guarantees exactly one kind
    return Raw(s.raw.errors, s.raw.total)


def _check_histogram(
    sli: Latency, declared: list[float] | None, path: Path_, issues: _Issues
) -> None:
    sel = sli.histogram
    if sel.metric.endswith(("_bucket", "_count", "_sum")):
        issues.add(
            (*path, "histogram"), "give the histogram's base name, without _bucket/_count/_sum"
        )
    if "le" in sel.label_names():
        issues.add((*path, "histogram"), "must not match on `le`; the threshold selects the bucket")
    family = catalog.BY_NAME.get(sel.metric)
    if family is not None and declared is not None:
        issues.add(
            (*path, "buckets"),
            f"{sel.metric} is in the exporter catalog, which declares its buckets; remove this",
        )
    if family is not None and family.kind is not catalog.Kind.HISTOGRAM:
        issues.add(
            (*path, "histogram"),
            f"{sel.metric} is a {family.kind.value} in the exporter catalog, not a histogram",
        )
        return
    # Without declared buckets a histogram from another exporter is trusted; the absent
    # alert then watches the threshold's bucket series.
    buckets = family.buckets if family is not None else declared
    if buckets is not None and not any(Decimal(repr(b)) == sli.threshold for b in buckets):
        listed = ", ".join(f"{b:g}" for b in buckets)
        issues.add(
            (*path, "threshold"),
            f"{sli.threshold}s is not a bucket boundary of {sel.metric} (buckets: {listed}): "
            "its bucket series would never exist and the SLO could never burn",
        )


def _merge(layers: list[spec.Tier | None]) -> spec.Tier:
    """Later layers override earlier ones field by field (defaults, then the SLO's own)."""
    merged = spec.Tier()
    for layer in layers:
        if layer is not None:
            merged = merged.model_copy(update=layer.model_dump(exclude_none=True))
    return merged


def _tiers(
    s: spec.SLO,
    d: spec.Defaults,
    period: int,
    scrape: int,
    budget: Decimal,
    path: Path_,
    issues: _Issues,
) -> tuple[Tier, ...]:
    defaults = {t.name: t for t in DEFAULT_TIERS}
    names = list(dict.fromkeys([*defaults, *d.alerting.tiers, *s.alerting.tiers]))
    result = []
    for name in names:
        if name in s.alerting.tiers:
            where: Path_ = (*path, "alerting", "tiers", name)
        elif name in d.alerting.tiers:
            where = ("defaults", "alerting", "tiers", name)
        else:
            where = (*path, "objective")
        tier = _merge([d.alerting.tiers.get(name), s.alerting.tiers.get(name)])
        default = defaults.get(name)
        alert = tier.alert or (default.alert if default else None)
        factor = Decimal(repr(tier.factor)) if tier.factor is not None else None
        factor = factor or (default.factor if default else None)
        if alert is None or factor is None or (tier.long_window is None and default is None):
            issues.add(
                where,
                f"tier {name!r} is not a default tier: it needs alert, long_window and factor",
            )
            continue
        enabled = {"page": s.alerting.page, "ticket": s.alerting.ticket}[alert]
        if tier.disabled or not enabled:
            continue
        if tier.long_window is not None:
            long = _seconds(tier.long_window)
        else:
            assert default is not None
            long = long_window(period, default.divisor, scrape)
        short = _seconds(tier.short_window) if tier.short_window else short_window(long, scrape)
        for label, window in (("long_window", long), ("short_window", short)):
            if window < MIN_SCRAPES_PER_WINDOW * scrape:
                issues.add(
                    where,
                    f"tier {name!r}: {label} {durations.format_seconds(window)} is shorter than "
                    f"{MIN_SCRAPES_PER_WINDOW} scrape intervals",
                )
        if short > long:
            issues.add(where, f"tier {name!r}: short_window must not be longer than long_window")
        if long > period:
            issues.add(where, f"tier {name!r}: long_window is longer than the SLO period")
        if factor * budget >= 1:
            issues.add(
                where,
                f"tier {name!r} of SLO {s.name!r} can never fire: factor {factor} x error budget "
                f"{budget} = {factor * budget} >= 1; lower the factor, relax the objective, "
                f"or disable it (alerting.tiers.{name}.disabled: true)",
            )
        severity = (d.alerting.page if alert == "page" else d.alerting.ticket).severity
        for_ = _seconds(tier.for_) if tier.for_ else None
        result.append(Tier(name, alert, severity, long, short, factor, for_))
    return tuple(result)


def _alert_labels(
    labels: dict[str, str], path: Path_, issues: _Issues, reserved: frozenset[str]
) -> Labels:
    for key in labels:
        if key in reserved:
            issues.add((*path, key), f"label {key!r} is set by idp-rulegen")
    return tuple(labels.items())


def _check_uids(file: spec.SpecFile, issues: _Issues) -> None:
    """Each dashboard becomes a ConfigMap named from its uid: two uids that map to one name
    (`team_a` and `Team-A`) would drop a dashboard and fail `kubectl apply -k`."""
    taken: dict[str, tuple[str, str]] = {}  # ConfigMap name -> (which dashboard, uid)
    if file.slos:
        for uid in (sd.OVERVIEW_UID, sd.DETAIL_UID):
            taken[k8s.configmap_name(uid)] = ("the generated SLO dashboard", uid)
    for i, dash in enumerate(file.dashboards):
        name = k8s.configmap_name(dash.uid)
        if name in taken:
            which, uid = taken[name]
            message = (
                f"uid {dash.uid!r} is already used by {which}"
                if uid == dash.uid
                else f"uid {dash.uid!r} and {which} (uid {uid!r}) both become the ConfigMap "
                f"{name!r}; uids must differ in more than case and `_`/`-`"
            )
            issues.add(("dashboards", i, "uid"), message)
        taken.setdefault(name, (f"dashboards[{i}]", dash.uid))


def build(file: spec.SpecFile, doc: Document, name: str) -> Model:
    """Check cross-field rules and return the model; raise SpecError listing every problem."""
    issues = _Issues(doc)
    d = file.defaults
    spec_labels = dict(file.metadata.labels)
    labels = _alert_labels(spec_labels, ("metadata", "labels"), issues, naming.RESERVED_LABELS)
    scrape = _seconds(d.scrape_interval)
    if scrape > 600:
        issues.add(("defaults", "scrape_interval"), "must be at most 10m")
    default_period = _seconds(d.window)
    slos: list[SLO] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(file.slos):
        path: Path_ = ("slos", i)
        if s.name in seen:
            issues.add(
                (*path, "name"), f"SLO {s.name!r} is already defined at slos[{seen[s.name]}]"
            )
        seen.setdefault(s.name, i)
        period = _seconds(s.window) if s.window else default_period
        if not MIN_PERIOD <= period <= MAX_PERIOD:
            issues.add(
                (*path, "window") if s.window else ("defaults", "window"),
                "the SLO period must be between 1d and 90d",
            )
            continue
        objective = Decimal(repr(s.objective))
        budget = 1 - objective / 100
        runbook = s.alerting.runbook or s.name
        slos.append(
            SLO(
                name=s.name,
                service=s.service or file.metadata.name,
                description=s.description.strip(),
                objective=objective,
                period=period,
                sli=_sli(s.sli, spec_labels, (*path, "sli"), issues),
                alert_name=s.alerting.name,
                runbook_url=naming.runbook_url(d.runbook_url, runbook) if d.runbook_url else None,
                alert_labels=_alert_labels(
                    s.alerting.labels, (*path, "alerting", "labels"), issues, naming.RESERVED_LABELS
                ),
                tiers=_tiers(s, d, period, scrape, budget, path, issues),
                base=base_window(scrape),
            )
        )
    burn_names = {s.alert_name for s in slos} | {naming.ABSENT_ALERT}
    alerts: list[ThresholdAlert] = []
    seen_alerts: dict[str, int] = {}
    for i, a in enumerate(file.alerts):
        path = ("alerts", i)
        if a.name in seen_alerts:
            issues.add(
                (*path, "name"),
                f"alert {a.name!r} is already defined at alerts[{seen_alerts[a.name]}]",
            )
        elif a.name in burn_names:
            issues.add((*path, "name"), f"{a.name!r} is the name of a generated SLO alert")
        seen_alerts.setdefault(a.name, i)
        alerts.append(
            ThresholdAlert(
                name=a.name,
                expr=a.expr,
                for_=_seconds(a.for_) if a.for_ else None,
                severity=a.severity,
                labels=_alert_labels(
                    a.labels, (*path, "labels"), issues, frozenset({"severity", "alertname"})
                ),
                summary=a.summary,
                description=a.description,
                runbook_url=naming.runbook_url(d.runbook_url, a.runbook)
                if d.runbook_url and a.runbook
                else None,
            )
        )
    _check_uids(file, issues)
    if issues.items:
        raise SpecError(name, issues.items)
    external = file.external_metrics
    return Model(
        file.metadata.name,
        labels,
        scrape,
        tuple(slos),
        tuple(alerts),
        tuple(file.dashboards),
        external_metrics=None
        if external is None
        else tuple(sorted({m for names in external.values() for m in names})),
        outputs=file.outputs,
        file=name,
        doc=doc,
    )


def load(path: str) -> Model:
    """Read, schema-check and build the model of the spec at `path`."""
    from pathlib import Path

    file, doc = spec.read(Path(path))
    return build(file, doc, path)
