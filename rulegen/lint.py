"""Lint for rendered dashboards and rule groups: findings are data, the CLI picks exit codes.

Implements the grafana/dashboard-linter rules that apply to these dashboards (ids kept so
a reader can look them up), the JSON-model checks Grafana's file provisioning relies on,
and a metric-existence check shared with the rules: every metric a panel or a rule reads
must be emitted by idp-exporter (common/catalog.py), recorded by a rule of the bundle,
or declared as external by the spec.

Not implemented, on purpose (see EXCLUDED_RULES for the reasons users read):
template-job/instance and target-job/instance, target-logql*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import promql_parser as pp

from common import catalog
from rulegen import grafana
from rulegen.promql import children

JSON = dict[str, Any]

EXCLUDED_RULES: dict[str, str] = {
    "template-job-rule": "dashboards read recording rules and multi-cluster series whose job/instance "
    "labels are aggregated away; the `cluster` variable is the scope, not job/instance.",
    "template-instance-rule": "as template-job-rule.",
    "target-job-rule": "a job matcher would match nothing on recording rules (they drop `job`).",
    "target-instance-rule": "as target-job-rule.",
    "target-logql-rule": "no Loki datasource: every panel is Prometheus.",
    "target-logql-auto-rule": "as target-logql-rule.",
}

# Series Prometheus itself creates: never in any exporter's catalog, always present.
PROMETHEUS_SYNTHETIC = frozenset(
    {
        "up",
        "ALERTS",
        "ALERTS_FOR_STATE",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)

# The unit ids of Grafana's value formats (packages/grafana-data/src/valueFormats/categories.ts)
# that make sense for operational data; anything else is most likely a typo.
KNOWN_UNITS = frozenset(
    {
        # misc
        "none", "string", "short", "percent", "percentunit", "sci", "locale", "hex", "hex0x",
        # data
        "bits", "bytes", "kbytes", "mbytes", "gbytes", "tbytes", "pbytes",
        "decbits", "decbytes", "deckbytes", "decmbytes", "decgbytes", "dectbytes", "decpbytes",
        # data rate
        "pps", "bps", "Bps", "KBs", "Kbits", "MBs", "Mbits", "GBs", "Gbits", "TBs", "Tbits",
        "binBps", "binbps",
        # date and time
        "dateTimeAsIso", "dateTimeAsIsoNoDateIfToday", "dateTimeAsUS",
        "dateTimeAsUSNoDateIfToday", "dateTimeFromNow",
        "hertz", "ns", "µs", "ms", "s", "m", "h", "d",
        "dtdurationms", "dtdurations", "dthms", "dtdhms", "timeticks", "clockms", "clocks",
        # throughput
        "cps", "ops", "reqps", "rps", "wps", "iops", "cpm", "opm", "rpm", "wpm",
    }
)  # fmt: skip

# Grafana's built-in variables, expanded to values that parse. The three durations are
# odd on purpose: target-rate-interval recognises `$__rate_interval` by its stand-in.
RATE_INTERVAL = timedelta(milliseconds=1234567)
_BUILTINS: dict[str, str] = {
    "__rate_interval": "1234567ms",
    "__interval": "2345678ms",
    "__range": "3456789ms",
    "__interval_ms": "60000",
    "__range_s": "86400",
    "__range_ms": "86400000",
    "__from": "1700000000000",
    "__to": "1700086400000",
}
_VAR_RE = re.compile(
    r"\$\{(?P<a>[A-Za-z_]\w*)(?::[^}]*)?\}|\[\[(?P<b>[A-Za-z_]\w*)(?::[^\]]*)?\]\]|\$(?P<c>[A-Za-z_]\w*)"
)
_UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_LABEL_VALUES_RE = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[A-Za-z_]\w*)\)$")
_RATE_FUNCS = frozenset({"rate", "irate", "increase"})


@dataclass(frozen=True, order=True)
class Where:
    """Where a finding is: a dashboard (variable, panel, target) or a rule of a group.

    Structured, so the caller can map it back to the spec's file:line; -1 means "none".
    """

    uid: str = ""
    variable: str = ""
    panel_id: int = -1
    panel: str = ""
    target: int = -1
    group: str = ""
    rule_name: str = ""

    def __str__(self) -> str:
        if self.group:
            return f"rule group {self.group}, rule {self.rule_name}"
        out = f"dashboard {self.uid}"
        if self.variable:
            out += f", variable {self.variable}"
        if self.panel_id >= 0:
            out += f', panel "{self.panel}"'
        if self.target >= 0:
            out += f", target {self.target}"
        return out


@dataclass(frozen=True, order=True)
class Finding:
    location: Where
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.rule}: {self.message}"


# Names only idp-slo produces: a reference to one that does not exist is always a typo.
OWNED_PREFIXES = ("idp_", "slo:")


@dataclass(frozen=True)
class Metrics:
    """The metric names that exist for this bundle.

    `complete`: the names are the whole world (the spec declared its external metrics).
    Otherwise only names under our own prefixes are checked and others are trusted, as
    a spec without `external_metrics` (the spec reference's first example) must stay valid.
    """

    names: frozenset[str]
    complete: bool = True

    def knows(self, name: str) -> bool:
        return name in self.names or not (self.complete or name.startswith(OWNED_PREFIXES))

    def matches(self, pattern: str) -> bool:
        """A `__name__=~` regex selects something only if it matches a known name."""
        rx = re.compile(f"^(?:{pattern})$")
        return not self.complete or any(rx.match(n) for n in self.names)


def known_metrics(groups: Sequence[JSON], external: Iterable[str] | None = ()) -> Metrics:
    """Catalog series + Prometheus' synthetic series + recorded rules + declared externals."""
    recorded = {str(r["record"]) for g in groups for r in g.get("rules", []) if "record" in r}
    names = catalog.series_names() | PROMETHEUS_SYNTHETIC | recorded | frozenset(external or ())
    return Metrics(names, complete=external is not None)


# ----------------------------------------------------------------------------- PromQL


def expand_variables(expr: str, defined: Iterable[str]) -> tuple[str, list[str]]:
    """Grafana variables -> values that parse; returns the text and unknown variable names."""
    if "$" not in expr:  # every rule expression: skip the substitution
        return expr, []
    names = set(defined)
    unknown: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group("a") or m.group("b") or m.group("c")
        if name in _BUILTINS:
            return _BUILTINS[name]
        if name not in names:
            unknown.append(name)
        return variable_stand_in(name)

    return _VAR_RE.sub(sub, expr), unknown


def variable_stand_in(name: str) -> str:
    """What `$name` expands to: valid in a matcher value and as a label name, and traceable."""
    return f"__{name}__"


def selectors(node: Any) -> list[Any]:
    """Every vector selector in an expression (including those inside range vectors), in
    reading order; a loop over a stack, as this runs for every rule of a bundle."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, pp.VectorSelector):
            out.append(n)
        stack.extend(reversed(children(n)))
    return out


def _metric_problems(node: Any, metrics: Metrics) -> list[str]:
    problems: list[str] = []
    for sel in selectors(node):
        if sel.name:
            if not metrics.knows(sel.name):
                problems.append(f"unknown metric {sel.name!r}")
            continue
        for m in sel.matchers.matchers:
            if m.name != "__name__":
                continue
            if m.op == pp.MatchOp.Equal and not metrics.knows(m.value):
                problems.append(f"unknown metric {m.value!r}")
            if m.op == pp.MatchOp.Re and not metrics.matches(m.value):
                problems.append(f"no known metric matches __name__=~{m.value!r}")
    return problems


def _rate_ranges(node: Any) -> Iterator[tuple[str, timedelta]]:
    """(function, range) for every rate/irate/increase over a range selector."""
    if isinstance(node, pp.Call) and node.func.name in _RATE_FUNCS:
        for arg in node.args:
            if isinstance(arg, pp.MatrixSelector | pp.SubqueryExpr) and arg.range is not None:
                yield node.func.name, arg.range
    for child in children(node):
        yield from _rate_ranges(child)


def _bare_counters(node: Any, in_rate: bool = False) -> Iterator[str]:
    """`_total` selectors not read through rate/irate/increase (target-counter-agg)."""
    if isinstance(node, pp.VectorSelector):
        if node.name and node.name.endswith("_total") and not in_rate:
            yield node.name
        return
    if isinstance(node, pp.Call) and node.func.name in _RATE_FUNCS:
        for arg in node.args:
            yield from _bare_counters(arg, in_rate=True)
        return
    for child in children(node):
        # A range selector keeps the context: rate(x[5m]) reaches x through it.
        keep = in_rate and isinstance(node, pp.MatrixSelector)
        yield from _bare_counters(child, keep)


# ----------------------------------------------------------------------------- dashboards


def lint_dashboard(dash: JSON, metrics: Metrics) -> list[Finding]:
    uid = str(dash.get("uid", ""))
    where = Where(uid=uid or "<no uid>")
    out: list[Finding] = []
    if not _UID_RE.match(uid):
        out.append(Finding(where, "dashboard-uid", "uid must be 1-40 characters of [A-Za-z0-9_-]"))
    if not dash.get("title"):
        out.append(Finding(where, "dashboard-title", "dashboard has no title"))
    if dash.get("editable") is not False:
        out.append(Finding(where, "uneditable-dashboard", "editable must be false"))
    if not isinstance(dash.get("schemaVersion"), int):
        out.append(Finding(where, "dashboard-schema-version", "schemaVersion must be pinned"))
    variables = dash.get("templating", {}).get("list", [])
    out += _lint_variables(where, variables, metrics)
    defined = [str(v.get("name")) for v in variables]
    panels = list(_all_panels(dash.get("panels", [])))
    out += _lint_layout(where, panels)
    for p in panels:
        if p.get("type") != "row":
            out += _lint_panel(where, p, defined, metrics)
            out += _lint_variable_use(_at(where, p), p, variables)
    return out


def _all_panels(panels: Iterable[JSON]) -> Iterator[JSON]:
    for p in panels:
        yield p
        yield from _all_panels(p.get("panels", []))


def _lint_variables(where: Where, variables: Sequence[JSON], metrics: Metrics) -> list[Finding]:
    out: list[Finding] = []
    ds = [v for v in variables if v.get("name") in ("datasource", "prometheus_datasource")]
    if not ds:
        out.append(Finding(where, "template-datasource-rule", "no `datasource` template variable"))
    for v in ds:
        if v.get("type") != "datasource" or v.get("query") != "prometheus":
            out.append(
                Finding(
                    where, "template-datasource-rule", "datasource variable must query prometheus"
                )
            )
        if v.get("label") != "Data source":
            out.append(Finding(where, "template-datasource-rule", "label must be `Data source`"))
    names = [v.get("name") for v in variables]
    for name in sorted({str(n) for n in names if names.count(n) > 1}):
        out.append(Finding(where, "template-unique", f"variable {name!r} defined twice"))
    for v in variables:
        if v.get("type") != "query":
            continue
        vwhere = replace(where, variable=str(v.get("name")))
        if v.get("refresh") != 2:
            out.append(Finding(vwhere, "template-on-time-change-reload-rule", "refresh must be 2"))
        if v.get("datasource") != grafana.DATASOURCE_REF:
            out.append(Finding(vwhere, "template-datasource-rule", "must use ${datasource}"))
        query = v.get("query")
        text = str(query.get("query", "") if isinstance(query, dict) else query)
        m = _LABEL_VALUES_RE.match(text)
        if not m:
            out.append(
                Finding(
                    vwhere,
                    "template-label-promql-rule",
                    f"not label_values(selector, label): {text!r}",
                )
            )
            continue
        out += _lint_expr(vwhere, "template-label-promql-rule", m.group("selector"), names, metrics)
    return out


def _lint_layout(where: Where, panels: Sequence[JSON]) -> list[Finding]:
    out: list[Finding] = []
    ids = [p.get("id") for p in panels]
    for i in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        out.append(Finding(where, "panel-id-unique", f"panel id {i} used more than once"))
    boxes: list[tuple[str, int, int, int, int]] = []
    for p in panels:
        g = p.get("gridPos", {})
        h, w, x, y = (g.get(k) for k in ("h", "w", "x", "y"))
        title = str(p.get("title", ""))
        if not all(isinstance(n, int) for n in (h, w, x, y)):
            out.append(Finding(_at(where, p), "panel-gridpos", "gridPos needs integer h, w, x, y"))
            continue
        assert (
            isinstance(h, int) and isinstance(w, int) and isinstance(x, int) and isinstance(y, int)
        )
        if h <= 0 or w <= 0 or x < 0 or y < 0 or x + w > grafana.GRID_WIDTH:
            out.append(Finding(_at(where, p), "panel-gridpos", f"outside the 24-column grid: {g}"))
        for other, ox, oy, ow, oh in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                out.append(Finding(_at(where, p), "panel-gridpos", f'overlaps panel "{other}"'))
        boxes.append((title, x, y, w, h))
    return out


def _at(where: Where, p: JSON) -> Where:
    pid = p.get("id")
    return replace(
        where, panel_id=pid if isinstance(pid, int) else 0, panel=str(p.get("title", ""))
    )


def _lint_panel(where: Where, p: JSON, defined: Sequence[str], metrics: Metrics) -> list[Finding]:
    title = str(p.get("title", ""))
    pwhere = _at(where, p)
    out: list[Finding] = []
    if p.get("type") not in grafana.PANEL_TYPES:
        out.append(Finding(pwhere, "panel-type", f"unknown panel type {p.get('type')!r}"))
    if not title or not p.get("description"):
        out.append(
            Finding(pwhere, "panel-title-description-rule", "panel needs a title and a description")
        )
    if p.get("datasource") != grafana.DATASOURCE_REF:
        out.append(Finding(pwhere, "panel-datasource-rule", "panel must use ${datasource}"))
    out += _lint_field_config(pwhere, p.get("fieldConfig", {}))
    targets = p.get("targets", [])
    if not targets:
        out.append(Finding(pwhere, "panel-no-targets-rule", "panel has no targets"))
    for i, t in enumerate(targets):
        out += _lint_target(replace(pwhere, target=i), t, defined, metrics)
    return out


def _lint_field_config(pwhere: Where, fc: JSON) -> list[Finding]:
    out: list[Finding] = []
    defaults = fc.get("defaults", {})
    units = [defaults.get("unit")]
    for o in fc.get("overrides", []):
        units += [prop.get("value") for prop in o.get("properties", []) if prop.get("id") == "unit"]
    # As dashboard-linter: value mappings give the values their meaning instead of a unit.
    if not defaults.get("mappings"):
        for unit in units:
            if unit not in KNOWN_UNITS:
                out.append(
                    Finding(pwhere, "panel-units-rule", f"unit {unit!r} is not a Grafana unit")
                )
    steps = defaults.get("thresholds", {}).get("steps", [])
    if not steps or steps[0].get("value") is not None:
        out.append(Finding(pwhere, "panel-thresholds", "first threshold step must have value null"))
    values = [s.get("value") for s in steps[1:]]
    if any(v is None for v in values) or values != sorted(v for v in values if v is not None):
        out.append(
            Finding(
                pwhere, "panel-thresholds", "threshold steps must be numbers in ascending order"
            )
        )
    return out


def _lint_target(twhere: Where, t: JSON, defined: Sequence[str], metrics: Metrics) -> list[Finding]:
    out: list[Finding] = []
    if t.get("datasource") != grafana.DATASOURCE_REF:
        out.append(Finding(twhere, "panel-datasource-rule", "target must use ${datasource}"))
    expr = str(t.get("expr", ""))
    node = _parse(twhere, "target-promql-rule", expr, defined, out)
    if node is None:
        return out
    out += [Finding(twhere, "metric-exists", p) for p in _metric_problems(node, metrics)]
    for func, rng in _rate_ranges(node):
        # A fixed window in an instant query is the statistic itself ("deployments in the
        # last 24h"); dashboard-linter's docs advise an exclusion for exactly that case.
        if rng != RATE_INTERVAL and not t.get("instant"):
            out.append(
                Finding(
                    twhere, "target-rate-interval-rule", f"{func}() must use [$__rate_interval]"
                )
            )
    for name in _bare_counters(node):
        out.append(
            Finding(
                twhere,
                "target-counter-agg-rule",
                f"counter {name!r} must be read via rate()/increase()",
            )
        )
    return out


def _parse(where: Where, rule: str, expr: str, defined: Sequence[str], out: list[Finding]) -> Any:
    text, unknown = expand_variables(expr, defined)
    for name in unknown:
        out.append(Finding(where, rule, f"undefined variable ${name}"))
    try:
        return pp.parse(text)
    except ValueError as e:
        out.append(Finding(where, rule, f"invalid PromQL: {e}"))
        return None


def _lint_expr(
    where: Where, rule: str, expr: str, defined: Sequence[Any], metrics: Metrics
) -> list[Finding]:
    out: list[Finding] = []
    node = _parse(where, rule, expr, [str(d) for d in defined], out)
    if node is not None:
        out += [Finding(where, "metric-exists", p) for p in _metric_problems(node, metrics)]
    return out


# ----------------------------------------------------------------------------- label variables

# The label every multi-cluster dashboard filters by (kube-prometheus' `cluster` variable).
CLUSTER_LABEL = "cluster"


@dataclass(frozen=True)
class _LabelVariable:
    name: str
    label: str
    regex: bool  # multi-select or All: Grafana substitutes a regex


def _label_variables(variables: Sequence[JSON]) -> list[_LabelVariable]:
    out = []
    for v in variables:
        query = v.get("query")
        text = str(query.get("query", "") if isinstance(query, dict) else query)
        m = _LABEL_VALUES_RE.match(text)
        if v.get("type") == "query" and m:
            regex = bool(v.get("multi") or v.get("includeAll"))
            out.append(_LabelVariable(str(v.get("name")), m.group("label"), regex))
    return out


def _lint_variable_use(pwhere: Where, p: JSON, variables: Sequence[JSON]) -> list[Finding]:
    """Label variables must be matched as regexes, and must filter every series of the
    exporter's catalog that carries their label (else the panel ignores the choice); a
    dashboard reading cluster-labelled catalog series needs a `cluster` variable."""
    label_vars = _label_variables(variables)
    names = [str(v.get("name")) for v in variables]
    out: list[Finding] = []
    for i, t in enumerate(p.get("targets", [])):
        text, _ = expand_variables(str(t.get("expr", "")), names)
        try:
            node = pp.parse(text)
        except ValueError:
            continue  # reported by target-promql-rule
        out += [
            Finding(replace(pwhere, target=i), rule, message)
            for rule, message in _variable_problems(selectors(node), label_vars)
        ]
    return out


def _variable_problems(
    sels: Sequence[Any], label_vars: Sequence[_LabelVariable]
) -> Iterator[tuple[str, str]]:
    for sel in sels:
        family = catalog.family_of(str(sel.name)) if sel.name else None
        matched = {m.name for m in sel.matchers.matchers}
        for v in label_vars:
            stand_in = variable_stand_in(v.name)
            for m in sel.matchers.matchers:
                if (
                    v.regex
                    and stand_in in m.value
                    and m.op in (pp.MatchOp.Equal, pp.MatchOp.NotEqual)
                ):
                    yield (
                        "target-variable-regex-rule",
                        f"${v.name} may hold several values or All (a regex): "
                        f'match it with {m.name}=~"${v.name}"',
                    )
            if family and v.label in family.labels and v.label not in matched:
                yield (
                    "target-variable-filter-rule",
                    f"{sel.name} has a {v.label!r} label but is not filtered by "
                    f'{v.label}=~"${v.name}": the panel ignores the variable',
                )
        if (
            family
            and CLUSTER_LABEL in family.labels
            and all(v.label != CLUSTER_LABEL for v in label_vars)
        ):
            yield (
                "template-cluster-variable-rule",
                f"{sel.name} has a {CLUSTER_LABEL!r} label: give the dashboard "
                f"`variables: [{CLUSTER_LABEL}]` and filter by it",
            )


# ----------------------------------------------------------------------------- rules and bundle


def lint_rule_groups(groups: Sequence[JSON], metrics: Metrics) -> list[Finding]:
    """Every rule expression parses and reads only metrics that exist."""
    out: list[Finding] = []
    for g in groups:
        for r in g.get("rules", []):
            name = r.get("record") or r.get("alert")
            where = Where(group=str(g.get("name")), rule_name=str(name))
            out += _lint_expr(where, "rule-promql", str(r.get("expr", "")), [], metrics)
    return out


def lint_bundle(
    dashboards: Sequence[JSON], groups: Sequence[JSON], external: Iterable[str] | None = ()
) -> list[Finding]:
    """All findings for a bundle, sorted so output is stable."""
    metrics = known_metrics(groups, external)
    out = lint_rule_groups(groups, metrics)
    # Grafana keys dashboards by uid everywhere, and by title within a folder.
    for key in ("uid", "title"):
        seen: set[str] = set()
        for d in dashboards:
            value = str(d.get(key))
            if value in seen:
                message = f"{key} {value!r} is used by more than one dashboard"
                out.append(Finding(Where(uid=str(d.get("uid"))), f"dashboard-{key}", message))
            seen.add(value)
    for d in dashboards:
        out += lint_dashboard(d, metrics)
    return sorted(set(out))
