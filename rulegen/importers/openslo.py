"""OpenSLO v1 -> idp-slo SLOs. Objects may span files and documents; references
(`indicatorRef`, `alertPolicyRef`, `conditionRef`, `metricSourceRef`) resolve by
kind and name across every file of one import.

- ratioMetric over counters: `bad`+`total` -> a `ratio` SLI; `good`+`total` -> the
  complement selector where `good` is `total` plus one matcher, else raw total - good;
  `raw` with rawType -> `raw.error_ratio`.
- thresholdMetric over one histogram's `_bucket` series, op lt/lte -> a `latency` SLI.
- AlertPolicy/AlertCondition `burnrate` -> tiers (factor = threshold, long window =
  lookbackWindow, `for` = alertAfter) replacing the default tiers.
- Occurrences budgeting and rolling windows only; the rest is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from common.durations import format_seconds, parse_seconds
from common.issues import JsonPath as Path_
from common.issues import json_path
from rulegen.importers import queries
from rulegen.importers.output import ImportedSLO, k8s_name
from rulegen.importers.source import Located, Note, Source, duration
from rulegen.promql import Selector
from rulegen.windows import DEFAULT_TIERS, MIN_SCRAPES_PER_WINDOW

API_VERSION = "openslo/v1"
KINDS = (
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "DataSource",
    "Service",
)
# AlertCondition severities that page; any other severity files a ticket.
PAGE_SEVERITIES = frozenset({"page", "critical", "sev1", "sev-1", "p1", "high", "urgent"})
DEFAULT_PERIOD = 30 * 86400
SCRAPE_INTERVAL = 30  # the spec's default; windows shorter than 4 of these are refused


@dataclass(frozen=True)
class _Object:
    loc: Located
    path: Path_  # of the object in its document


@dataclass
class _Catalog:
    by_kind: dict[str, dict[str, _Object]] = field(default_factory=dict)

    def add(self, kind: str, name: str, obj: _Object) -> None:
        found = self.by_kind.setdefault(kind, {})
        if name in found:
            first = found[name]
            line, _ = first.loc.position(first.path)
            obj.loc.note(obj.path, f"{kind} {name!r} is already defined at {first.loc.file}:{line}")
            return
        found[name] = obj

    def find(self, kind: str, name: str) -> _Object | None:
        return self.by_kind.get(kind, {}).get(name)


def convert(sources: list[Source], notes: list[Note]) -> list[ImportedSLO]:
    catalog = _Catalog()
    for src in sources:
        for doc in src.docs:
            loc = Located(src.file, doc, notes)
            paths: list[Path_] = (
                [(i,) for i in range(len(doc.data))] if isinstance(doc.data, list) else [()]
            )
            for path in paths:
                _register(catalog, loc, path)
    out = []
    for name, obj in catalog.by_kind.get("SLO", {}).items():
        out += _slo(catalog, obj, name)
    return out


def _register(catalog: _Catalog, loc: Located, path: Path_) -> None:
    api, kind = loc.get((*path, "apiVersion")), loc.get((*path, "kind"))
    if api != API_VERSION:
        loc.note(path, f"not an OpenSLO v1 object (apiVersion {api!r}; expected {API_VERSION})")
        return
    if kind not in KINDS:
        loc.note((*path, "kind"), f"unknown OpenSLO kind {kind!r}")
        return
    name = loc.text((*path, "metadata", "name"), "metadata.name")
    if name is None:
        loc.note(path, f"{kind} without metadata.name; ignored")
        return
    catalog.add(str(kind), name, _Object(loc, path))


def _slo(catalog: _Catalog, obj: _Object, name: str) -> list[ImportedSLO]:
    loc, s = obj.loc, (*obj.path, "spec")
    origin = f"OpenSLO SLO {name!r}"
    method = loc.get((*s, "budgetingMethod"))
    if method is None:
        loc.note(s, f"{origin} has no budgetingMethod; imported as Occurrences")
    elif method != "Occurrences":
        loc.note(
            (*s, "budgetingMethod"),
            f"{origin} not imported: budgetingMethod {method} is not supported "
            "(idp-slo budgets Occurrences: every event counts once)",
        )
        return []
    window = _window(loc, (*s, "timeWindow"), origin)
    indicator = _indicator(catalog, loc, s, origin)
    objectives = loc.get((*s, "objectives"))
    if window is False or indicator is None:
        return []
    if not isinstance(objectives, list) or not objectives:
        loc.note(s, f"{origin} not imported: it has no objectives")
        return []
    period = parse_seconds(window) if isinstance(window, str) else DEFAULT_PERIOD
    out = []
    for i in range(len(objectives)):
        o = (*s, "objectives", i)
        percent = _percent(loc, o, origin)
        sli = indicator.sli(loc, o, origin)
        if percent is None or sli is None:
            continue
        data: dict[str, Any] = {
            "name": k8s_name(name if len(objectives) == 1 else f"{name}-{i + 1}")
        }
        service = loc.text((*s, "service"), "service")
        if service:
            data["service"] = service
        description = loc.text((*s, "description"), "description")
        if description:
            data["description"] = description
        data["objective"] = percent
        if window is not None:
            data["window"] = window
        data["sli"] = sli
        budget = 1 - Decimal(repr(percent)) / 100
        data["alerting"] = _alerting(catalog, loc, s, budget, period, origin)
        line, col = loc.position(obj.path)
        labels = {
            k: v
            for k, v in loc.strings((*obj.path, "metadata", "labels"), "label").items()
            if isinstance(loc.get((*obj.path, "metadata", "labels", k)), str)
        }
        out.append(
            ImportedSLO(data, loc.file, line, col, json_path(obj.path) or "$", origin, labels)
        )
    return out


def _window(loc: Located, path: Path_, origin: str) -> str | bool | None:
    """The rolling window as a Prometheus duration; None: the default; False: unsupported."""
    value = loc.get(path)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 1:
        loc.note(path, f"{origin} not imported: timeWindow must hold exactly one window")
        return False
    entry = (*path, 0)
    if loc.get((*entry, "calendar")) is not None or loc.get((*entry, "isRolling")) is False:
        loc.note(
            entry,
            f"{origin} not imported: calendar-aligned windows are not supported "
            "(idp-slo windows are rolling)",
        )
        return False
    text = loc.text((*entry, "duration"), "duration") or ""
    seconds = duration(text)
    if seconds is None:
        loc.note(
            (*entry, "duration"),
            f"{origin} not imported: window {text!r} has no fixed length; give days, e.g. 28d",
        )
        return False
    return format_seconds(seconds)


def _percent(loc: Located, path: Path_, origin: str) -> float | int | None:
    target, percent = loc.get((*path, "target")), loc.get((*path, "targetPercent"))
    for value, scale in ((target, 100), (percent, 1)):
        if isinstance(value, int | float) and not isinstance(value, bool):
            result = Decimal(repr(value)) * scale
            if 0 < result < 100:
                return int(result) if result == result.to_integral_value() else float(result)
    loc.note(path, f"{origin} objective not imported: target (0..1) or targetPercent is required")
    return None


@dataclass(frozen=True)
class _Indicator:
    """What an SLI gives each objective: a fixed ratio SLI, or a histogram to threshold."""

    ratio: dict[str, Any] | None = None
    histogram: Selector | None = None
    quantile: bool = False

    def sli(self, loc: Located, objective: Path_, origin: str) -> dict[str, Any] | None:
        if self.ratio is not None:
            return self.ratio
        assert self.histogram is not None
        op, value = loc.get((*objective, "op")), loc.get((*objective, "value"))
        if op not in ("lt", "lte"):
            loc.note(
                objective,
                f"{origin} objective not imported: a latency objective needs op lt or lte",
            )
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            loc.note(objective, f"{origin} objective not imported: value must be seconds > 0")
            return None
        meaning = "requests that finish within"
        if self.quantile:
            loc.note(
                (*objective, "value"),
                f"imported as the share of {meaning} {value}s (a latency SLI), "
                "not as the quantile staying below it",
            )
        if op == "lt":
            loc.note((*objective, "op"), "lt is imported as <= (histogram buckets include le)")
        return {"latency": {"histogram": self.histogram.render(), "threshold": float(value)}}


def _indicator(catalog: _Catalog, loc: Located, s: Path_, origin: str) -> _Indicator | None:
    ref = loc.get((*s, "indicatorRef"))
    if loc.get((*s, "indicator")) is not None:
        sloc, spec_path = loc, (*s, "indicator", "spec")
    elif isinstance(ref, str):
        found = catalog.find("SLI", ref)
        if found is None:
            loc.note(
                (*s, "indicatorRef"),
                f"{origin} not imported: SLI {ref!r} is not defined in the given files",
            )
            return None
        sloc, spec_path = found.loc, (*found.path, "spec")
    else:
        loc.note(s, f"{origin} not imported: it needs indicator or indicatorRef")
        return None
    if sloc.get((*spec_path, "ratioMetric")) is not None:
        ratio = _ratio(catalog, sloc, (*spec_path, "ratioMetric"), origin)
        return None if ratio is None else _Indicator(ratio=ratio)
    if sloc.get((*spec_path, "thresholdMetric")) is not None:
        path = (*spec_path, "thresholdMetric")
        query = _query(catalog, sloc, path, origin)
        if query is None:
            return None
        histogram = queries.bucket_histogram(query)
        if histogram is None:
            sloc.note(
                path,
                f"{origin} not imported: a thresholdMetric maps to a latency SLI only when "
                "its query reads one histogram's _bucket series",
            )
            return None
        return _Indicator(histogram=histogram, quantile=queries.bare_selector(query) is None)
    sloc.note(
        spec_path, f"{origin} not imported: the SLI has neither ratioMetric nor thresholdMetric"
    )
    return None


def _query(catalog: _Catalog, loc: Located, path: Path_, origin: str) -> str | None:
    """The Prometheus query of `path.metricSource`; None (noted) when there is none."""
    ms = (*path, "metricSource")
    kind = loc.get((*ms, "type"))
    ref = loc.get((*ms, "metricSourceRef"))
    if kind is None and isinstance(ref, str) and (source := catalog.find("DataSource", ref)):
        kind = source.loc.get((*source.path, "spec", "type"))
    if kind is not None and str(kind).lower() != "prometheus":
        loc.note(ms, f"{origin} not imported: metric source type {kind!r} is not Prometheus")
        return None
    query = loc.text((*ms, "spec", "query"), "query") or loc.text((*ms, "spec", "promql"), "query")
    if query is None:
        loc.note(ms, f"{origin} not imported: no query at metricSource.spec.query")
        return None
    try:
        queries.parse(query)
    except ValueError as exc:
        loc.note((*ms, "spec"), f"{origin} not imported: {exc}")
        return None
    return query


def _counter(catalog: _Catalog, loc: Located, path: Path_, origin: str) -> Selector | None:
    query = _query(catalog, loc, path, origin)
    if query is None:
        return None
    sel = queries.counter_selector(query)
    if sel is None:
        loc.note(
            path,
            f"{origin} not imported: a counter query must be SEL, rate(SEL[W]) or "
            "sum(rate(SEL[W]))",
        )
    elif queries.bare_selector(query) is None:
        loc.note(path, f"read as the counter {sel.render()} over idp-slo's own windows")
    return sel


def _ratio(catalog: _Catalog, loc: Located, path: Path_, origin: str) -> dict[str, Any] | None:
    if loc.get((*path, "raw")) is not None:
        return _raw_ratio(catalog, loc, path, origin)
    if loc.get((*path, "counter")) is False:
        loc.note(
            (*path, "counter"),
            f"{origin} not imported: gauge ratios (counter: false) are not supported; "
            "idp-slo counts events from counters",
        )
        return None
    good, bad = loc.get((*path, "good")), loc.get((*path, "bad"))
    if (good is None) == (bad is None) or loc.get((*path, "total")) is None:
        loc.note(path, f"{origin} not imported: ratioMetric needs total and one of good or bad")
        return None
    total = _counter(catalog, loc, (*path, "total"), origin)
    part = _counter(catalog, loc, (*path, "bad" if bad is not None else "good"), origin)
    if total is None or part is None:
        return None
    if bad is not None:
        return {"ratio": {"errors": part.render(), "total": total.render()}}
    errors = queries.negation(part, total)
    if errors is not None:
        loc.note((*path, "good"), f"good events imported as their complement {errors.render()}")
        return {"ratio": {"errors": errors.render(), "total": total.render()}}
    loc.note((*path, "good"), "errors are imported as total - good (a raw SLI)")
    t, g = f"sum(rate({total.render()}[$window]))", f"sum(rate({part.render()}[$window]))"
    return {"raw": {"errors": f"{t} - {g}", "total": t}}


def _raw_ratio(catalog: _Catalog, loc: Located, path: Path_, origin: str) -> dict[str, Any] | None:
    query = _query(catalog, loc, (*path, "raw"), origin)
    if query is None:
        return None
    sel = queries.bare_selector(query)
    kind = loc.get((*path, "rawType"))
    if sel is None or kind not in ("success", "failure"):
        loc.note(
            path,
            f"{origin} not imported: a raw ratio needs rawType success|failure and a query "
            "that is one selector of the stored ratio",
        )
        return None
    mean = f"avg_over_time({sel.render()}[$window])"
    return {"raw": {"error_ratio": mean if kind == "failure" else f"1 - {mean}"}}


def _alerting(
    catalog: _Catalog, loc: Located, s: Path_, budget: Decimal, period: int, origin: str
) -> dict[str, Any]:
    policies = loc.get((*s, "alertPolicies"))
    tiers: dict[str, dict[str, Any]] = {}
    severity: dict[str, str] = {}
    for i in range(len(policies) if isinstance(policies, list) else 0):
        for cloc, cpath in _conditions(catalog, loc, (*s, "alertPolicies", i), "AlertPolicy"):
            found = _tier(cloc, cpath, budget, period)
            if found is None:
                continue
            name, cls, sev, tier = found
            if name in tiers:
                cloc.note(cpath, f"condition {name!r} is already imported for {origin}; skipped")
                continue
            tiers[name] = tier
            if severity.setdefault(cls, sev) != sev:
                cloc.note(
                    cpath,
                    f"severity {sev!r}: one severity per class; {cls} alerts use {severity[cls]!r}",
                )
    if not tiers:
        loc.note(
            s,
            f"{origin} has no burn-rate alert conditions: imported without burn alerts "
            "(drop alerting.page/ticket: false for idp-slo's default tiers)",
        )
        return {"page": False, "ticket": False}
    out: dict[str, Any] = {}
    for cls in ("page", "ticket"):
        if cls in severity:
            out[cls] = {"severity": severity[cls]}
    defaults = {t.name: {"disabled": True} for t in DEFAULT_TIERS if t.name not in tiers}
    out["tiers"] = {**defaults, **tiers}
    return out


def _inline_or_ref(
    catalog: _Catalog, loc: Located, path: Path_, kind: str, ref_key: str
) -> tuple[Located, Path_] | None:
    ref = loc.get((*path, ref_key))
    if ref is None:
        return loc, path
    found = catalog.find(kind, ref) if isinstance(ref, str) else None
    if found is None:
        loc.note((*path, ref_key), f"{kind} {ref!r} is not defined in the given files; skipped")
        return None
    return found.loc, found.path


def _conditions(
    catalog: _Catalog, loc: Located, path: Path_, kind: str
) -> list[tuple[Located, Path_]]:
    """The AlertConditions of one alert policy (inline or referenced), located."""
    policy = _inline_or_ref(catalog, loc, path, kind, "alertPolicyRef")
    if policy is None:
        return []
    ploc, pspec = policy[0], (*policy[1], "spec")
    if ploc.get((*pspec, "alertWhenBreaching")) is False:
        ploc.note(pspec, "alert policy with alertWhenBreaching: false; skipped")
        return []
    if ploc.get((*pspec, "alertWhenResolved")) is True:
        ploc.note(
            pspec, "alertWhenResolved: resolved notifications are Alertmanager's send_resolved"
        )
    if ploc.get((*pspec, "notificationTargets")):
        ploc.note(
            (*pspec, "notificationTargets"),
            "notification targets are not imported: route the alerts in Alertmanager",
        )
    conditions = ploc.get((*pspec, "conditions"))
    out = []
    for j in range(len(conditions) if isinstance(conditions, list) else 0):
        cond = _inline_or_ref(
            catalog, ploc, (*pspec, "conditions", j), "AlertCondition", "conditionRef"
        )
        if cond is not None:
            out.append(cond)
    return out


def _tier(
    loc: Located, path: Path_, budget: Decimal, period: int
) -> tuple[str, str, str, dict[str, Any]] | None:
    """(tier name, class, severity, tier) of a burnrate AlertCondition; None (noted) if not."""
    cs = (*path, "spec")
    cond = (*cs, "condition")
    name = k8s_name(loc.text((*path, "metadata", "name"), "name") or "burn")
    kind = loc.get((*cond, "kind")) or "burnrate"
    factor = loc.get((*cond, "threshold"))
    lookback = duration(str(loc.get((*cond, "lookbackWindow")) or ""))
    after_text = str(loc.get((*cond, "alertAfter")) or "0m")
    after = 0 if after_text.rstrip("smhdw") == "0" else duration(after_text)
    severity = loc.text((*cs, "severity"), "severity")
    problem = None
    if kind != "burnrate":
        problem = f"condition kind {kind!r} is not supported (only burnrate)"
    elif not isinstance(factor, int | float) or isinstance(factor, bool) or factor <= 0:
        problem = "threshold must be a number > 0"
    elif lookback is None or after is None:
        problem = "lookbackWindow and alertAfter must be durations such as 1h or 5m"
    elif severity is None or "{{" in severity:
        problem = "severity is required (a plain string)"
    elif Decimal(repr(float(factor))) * budget >= 1:
        problem = f"burn rate {factor} x error budget {budget} >= 1 can never fire"
    elif not MIN_SCRAPES_PER_WINDOW * SCRAPE_INTERVAL <= lookback <= period:
        problem = "lookbackWindow must be between 2m and the SLO window"
    if problem is not None or severity is None or lookback is None:
        loc.note(cond, f"alert condition {name!r} not imported: {problem}")
        return None
    cls = "page" if severity.lower() in PAGE_SEVERITIES else "ticket"
    tier: dict[str, Any] = {
        "alert": cls,
        "long_window": format_seconds(lookback),
        "factor": factor,
    }
    if after:
        tier["for"] = format_seconds(after)
    return name, cls, severity, tier
