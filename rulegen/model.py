"""The validated, typed SLO model: what every renderer reads. No dicts past this point.

`build` turns a schema-valid SpecFile into a Model, checking what needs more than one
field: unique names, label collisions, tiers that can never fire. Each SLI kind builds and
checks its own part (rulegen/sli/: histogram buckets, catalog metric types, group_by).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from common import durations
from common.issues import Issue, json_path
from common.issues import JsonPath as Path_
from common.yamlsafe import Document
from rulegen import k8s, naming, sli, spec, topology
from rulegen import slo_dashboards as sd
from rulegen.errors import SpecError
from rulegen.sli.base import SLI
from rulegen.sli.raw import Raw
from rulegen.topology import Scope, Topology
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

Labels = tuple[tuple[str, str], ...]
Severity = str  # any label-safe value: Alertmanager routes on it


@dataclass(frozen=True)
class Tier:
    name: str
    alert: AlertClass
    severity: Severity
    long: int  # seconds
    short: int
    factor: Decimal
    for_: int | None
    # The spec's labels/annotations for this tier's alerts, later wins: the class's
    # defaults, the SLO's alerting, the SLO's settings for the class.
    labels: Labels = ()
    annotations: Labels = ()


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
    scope: Scope = "global"  # cluster: one SLO series per cluster (topology.md)
    # Split mode: the clusters whose base recordings its global sums wait for.
    clusters: tuple[str, ...] = ()

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
    annotations: Labels = ()
    # Split mode: cluster alerts run in every cluster's Prometheus, global ones centrally.
    scope: Scope = "cluster"


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
    topology: Topology = field(default_factory=Topology)
    # Where the spec came from, so renderers' findings can be reported as FILE:LINE:COL.
    file: str = ""
    doc: Document | None = field(default=None, compare=False, repr=False)
    # Located advice (e.g. alert names that are not CamelCase): printed, never fatal.
    warnings: tuple[Issue, ...] = ()

    def alerts_in(self, scope: Scope) -> tuple[ThresholdAlert, ...]:
        """The threshold alerts of one layer: "cluster" (every alert in single mode), where
        the raw series are, or "global", the global evaluator."""
        return tuple(a for a in self.alerts if a.scope == scope)


class _Issues:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Issue] = []
        self.warnings: list[Issue] = []

    def add(self, path: Path_, message: str) -> None:
        line, col = self.doc.position(path)
        self.items.append(Issue(line, col, json_path(path), message))

    def warn(self, path: Path_, message: str) -> None:
        line, col = self.doc.position(path)
        self.warnings.append(Issue(line, col, json_path(path), message))


def _seconds(text: str) -> int:
    return durations.parse_seconds(text)


def _merge(layers: list[spec.Tier | None]) -> spec.Tier:
    """Later layers override earlier ones field by field (defaults, then the SLO's own)."""
    merged = spec.Tier()
    for layer in layers:
        if layer is not None:
            merged = merged.model_copy(update=layer.model_dump(exclude_none=True))
    return merged


@dataclass(frozen=True)
class _SLOContext:
    """One SLO's spec and what its tiers are resolved against."""

    slo: spec.SLO
    defaults: spec.Defaults
    path: Path_
    period: int  # seconds
    scrape: int
    objective: Decimal

    @property
    def budget(self) -> Decimal:
        return 1 - self.objective / 100

    def tier_path(self, name: str) -> Path_:
        """Where a tier's findings point: the layer that declares it, else the objective."""
        if name in self.slo.alerting.tiers:
            return (*self.path, "alerting", "tiers", name)
        if name in self.defaults.alerting.tiers:
            return ("defaults", "alerting", "tiers", name)
        return (*self.path, "objective")


_DEFAULT_TIERS = {t.name: t for t in DEFAULT_TIERS}


def _tiers(c: _SLOContext, issues: _Issues) -> tuple[Tier, ...]:
    """The SLO's enabled tiers: the defaults, then tiers the defaults or the SLO add."""
    tiers = c.defaults.alerting.tiers, c.slo.alerting.tiers
    names = dict.fromkeys([*_DEFAULT_TIERS, *tiers[0], *tiers[1]])
    result = tuple(t for t in (_tier(name, c, issues) for name in names) if t is not None)
    _check_distinct(result, c, issues)
    return result


def _check_distinct(tiers: tuple[Tier, ...], c: _SLOContext, issues: _Issues) -> None:
    """Two tiers with the same severity, windows and labels would be one alert series
    ("duplicate sample for timestamp"): windows clamped to 4 scrape intervals can meet."""
    seen: dict[tuple[object, ...], str] = {}
    for t in tiers:
        key = (t.severity, t.long, t.short, t.labels)
        if key in seen:
            issues.add(
                c.tier_path(t.name),
                f"tiers {seen[key]!r} and {t.name!r} both alert on {durations.format_seconds(t.long)}"
                f"/{durations.format_seconds(t.short)} with severity {t.severity!r}: their alerts "
                "would be one series; disable one or give it other windows",
            )
        seen.setdefault(key, t.name)


def _tier(name: str, c: _SLOContext, issues: _Issues) -> Tier | None:
    """One tier with every layer merged; None if disabled or incomplete (reported)."""
    d, alerting = c.defaults.alerting, c.slo.alerting
    tier = _merge([d.tiers.get(name), alerting.tiers.get(name)])
    default = _DEFAULT_TIERS.get(name)
    alert = tier.alert or (default.alert if default else None)
    factor = Decimal(repr(tier.factor)) if tier.factor is not None else None
    factor = factor or (default.factor if default else None)
    if alert is None or factor is None or (tier.long_window is None and default is None):
        issues.add(
            c.tier_path(name),
            f"tier {name!r} is not a default tier: it needs alert, long_window and factor",
        )
        return None
    own = alerting.page if alert == "page" else alerting.ticket
    if tier.disabled or own.disabled:
        return None
    if tier.long_window is not None:
        long = _seconds(tier.long_window)
    else:
        assert default is not None
        long = long_window(c.period, default.divisor, c.scrape)
    short = _seconds(tier.short_window) if tier.short_window else short_window(long, c.scrape)
    shared = d.page if alert == "page" else d.ticket
    for_ = _seconds(tier.for_) if tier.for_ else None
    resolved = Tier(
        name,
        alert,
        own.severity or shared.severity,
        long,
        short,
        factor,
        for_,
        labels=(*shared.labels.items(), *alerting.labels.items(), *own.labels.items()),
        annotations=(
            *shared.annotations.items(),
            *alerting.annotations.items(),
            *own.annotations.items(),
        ),
    )
    _check_tier(resolved, c, issues)
    return resolved


def _check_tier(tier: Tier, c: _SLOContext, issues: _Issues) -> None:
    """Windows the scrape interval and period allow, and a threshold that can be crossed."""
    where, name = c.tier_path(tier.name), tier.name
    for label, window in (("long_window", tier.long), ("short_window", tier.short)):
        if window < MIN_SCRAPES_PER_WINDOW * c.scrape:
            issues.add(
                where,
                f"tier {name!r}: {label} {durations.format_seconds(window)} is shorter than "
                f"{MIN_SCRAPES_PER_WINDOW} scrape intervals",
            )
    if tier.short > tier.long:
        issues.add(where, f"tier {name!r}: short_window must not be longer than long_window")
    if tier.long > c.period:
        issues.add(where, f"tier {name!r}: long_window is longer than the SLO period")
    factor, budget = tier.factor, c.budget
    if factor * budget >= 1:
        issues.add(
            where,
            f"tier {name!r} of SLO {c.slo.name!r} can never fire: factor {factor} x error "
            f"budget {budget} = {factor * budget} >= 1; lower the factor, relax the objective, "
            f"or disable it (alerting.tiers.{name}.disabled: true)",
        )


def _alert_labels(
    labels: dict[str, str], path: Path_, issues: _Issues, reserved: frozenset[str]
) -> Labels:
    for key in labels:
        if key in reserved:
            issues.add((*path, key), f"label {key!r} is set by idp-rulegen")
    return tuple(labels.items())


def _annotations(
    annotations: dict[str, str], path: Path_, issues: _Issues, *, literal: bool
) -> Labels:
    """Custom annotations; `literal`: of burn alerts, whose generated tests compare them
    as written, so a `{{` template (expanded by Prometheus) could never match."""
    for key, text in annotations.items():
        if key in spec.GENERATED_ANNOTATIONS:
            issues.add(
                (*path, key),
                f"annotation {key!r} is generated by idp-rulegen "
                f"(generated: {', '.join(sorted(spec.GENERATED_ANNOTATIONS))})",
            )
        elif literal and "{{" in text:
            issues.add(
                (*path, key),
                f"annotation {key!r}: template syntax '{{{{' is not supported on SLO alerts "
                "(their generated tests check annotations as written)",
            )
    return tuple(annotations.items())


def _class_settings(
    alerting: spec.DefaultAlerting | spec.SLOAlerting, path: Path_, issues: _Issues
) -> None:
    """Check the labels and annotations of the page and ticket classes under `path`."""
    for cls in ("page", "ticket"):
        settings: spec.SeverityClass | spec.ClassOverride = getattr(alerting, cls)
        where: Path_ = (*path, cls)
        _annotations(settings.annotations, (*where, "annotations"), issues, literal=True)
        _alert_labels(settings.labels, (*where, "labels"), issues, naming.RESERVED_LABELS)


def _runbook_url(
    own: str | None, template: str | None, runbook: str | None, path: Path_, issues: _Issues
) -> str | None:
    """alerting.runbook_url as given, else defaults.runbook_url with {runbook} filled."""
    if own is not None:
        return own
    if template is None or runbook is None:
        return None
    url = naming.runbook_url(template, runbook)
    try:
        spec.check_url(url)
    except ValueError as exc:
        issues.add(path, f"{exc} once {{runbook}} is filled in")
    return url


def _camel_case(name: str, path: Path_, issues: _Issues) -> None:
    if not spec.CAMEL_CASE.match(name) or len(name) > spec.MAX_CAMEL_CASE:
        issues.warn(
            path,
            f"warning: alert name {name!r} is not CamelCase letters and digits of at most "
            f"{spec.MAX_CAMEL_CASE} characters (recommended, mixtool alert-name-camelcase)",
        )


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
    spec_labels = dict(file.metadata.labels)
    labels = _alert_labels(spec_labels, ("metadata", "labels"), issues, naming.RESERVED_LABELS)
    _class_settings(file.defaults.alerting, ("defaults", "alerting"), issues)
    scrape = _seconds(file.defaults.scrape_interval)
    if scrape > 600:
        issues.add(("defaults", "scrape_interval"), "must be at most 10m")
    where = topology.build(
        file,
        issues.add,
        _runbook_url(
            None,
            file.defaults.runbook_url,
            naming.CLUSTER_MISSING_RUNBOOK,
            ("defaults", "runbook_url"),
            issues,
        )
        if file.topology.mode == "split"
        else None,
    )
    slos = _slos(file, scrape, where, issues)
    alerts = _threshold_alerts(file, {s.alert_name for s in slos}, where, issues)
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
        topology=where,
        file=name,
        doc=doc,
        warnings=tuple(sorted(issues.warnings)),
    )


def _slos(file: spec.SpecFile, scrape: int, where: Topology, issues: _Issues) -> list[SLO]:
    """Every SLO with a valid period; names must be unique."""
    default_period = _seconds(file.defaults.window)
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
        c = _SLOContext(s, file.defaults, path, period, scrape, objective)
        topology.check_slo(s, path, where, issues.add)
        slos.append(_slo(c, file, where, issues))
    return slos


def _slo(c: _SLOContext, file: spec.SpecFile, where: Topology, issues: _Issues) -> SLO:
    s, d = c.slo, c.defaults
    runbook = s.alerting.runbook or s.name
    _class_settings(s.alerting, (*c.path, "alerting"), issues)
    _annotations(s.alerting.annotations, (*c.path, "alerting", "annotations"), issues, literal=True)
    if "name" in s.alerting.model_fields_set:
        _camel_case(s.alerting.name, (*c.path, "alerting", "name"), issues)
    return SLO(
        name=s.name,
        service=s.service or file.metadata.name,
        description=s.description.strip(),
        objective=c.objective,
        period=c.period,
        sli=_sli(s, file, c.path, where, issues),
        alert_name=s.alerting.name,
        runbook_url=_runbook_url(
            s.alerting.runbook_url,
            d.runbook_url,
            runbook,
            (*c.path, "alerting", "runbook") if s.alerting.runbook else c.path,
            issues,
        ),
        alert_labels=_alert_labels(
            s.alerting.labels, (*c.path, "alerting", "labels"), issues, naming.RESERVED_LABELS
        ),
        tiers=_tiers(c, issues),
        base=base_window(c.scrape),
        scope=s.scope,
        clusters=topology.slo_clusters(s, where),
    )


def _sli(s: spec.SLO, file: spec.SpecFile, path: Path_, where: Topology, issues: _Issues) -> SLI:
    built = sli.build(
        topology.cluster_sli(s, where),
        file.metadata.labels,
        (*path, "sli"),
        issues.add,
        tuple(file.defaults.replica_labels),
    )
    if isinstance(built, Raw) and s.scope == "cluster" and not where.split:
        # A raw SLI has no group_by of its own: its sums keep the cluster label instead.
        return replace(built, group_by=(where.cluster_label,))
    return built


def _threshold_alerts(
    file: spec.SpecFile, burn_names: set[str], where: Topology, issues: _Issues
) -> list[ThresholdAlert]:
    """The spec's own alerts; their names must not repeat or shadow a generated alert."""
    taken = burn_names | {naming.ABSENT_ALERT}
    if where.split:
        taken.add(naming.CLUSTER_MISSING_ALERT)
    runbook_template = file.defaults.runbook_url
    alerts: list[ThresholdAlert] = []
    seen: dict[str, int] = {}
    for i, a in enumerate(file.alerts):
        path: Path_ = ("alerts", i)
        if a.name in seen:
            issues.add(
                (*path, "name"), f"alert {a.name!r} is already defined at alerts[{seen[a.name]}]"
            )
        elif a.name in taken:
            issues.add((*path, "name"), f"{a.name!r} is the name of a generated SLO alert")
        seen.setdefault(a.name, i)
        _camel_case(a.name, (*path, "name"), issues)
        if a.scope == "global" and where.split:
            topology.check_global_alert(a, path, issues.add)
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
                runbook_url=_runbook_url(
                    a.runbook_url, runbook_template, a.runbook, (*path, "runbook"), issues
                ),
                annotations=_annotations(
                    a.annotations, (*path, "annotations"), issues, literal=False
                ),
                scope=a.scope or "cluster",
            )
        )
    return alerts


def load(path: str) -> Model:
    """Read, schema-check and build the model of the spec at `path`."""
    from pathlib import Path

    file, doc = spec.read(Path(path))
    return build(file, doc, path)
