"""On-disk schema of SLO spec v1 (docs/spec.md): shapes, types and per-field checks.

Cross-field rules (unique names, impossible tiers, histogram buckets) live in model.py;
this module only says what each key may hold. Unknown keys are errors everywhere.

A spec file is at most 8 MiB (room for ~60,000 SLOs; anchors and aliases are refused,
so memory stays proportional to it) and nests at most 32 levels.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from common import durations, yamlsafe
from common.issues import Issue, LocatedError, pydantic_message, validation_issues
from common.yamlsafe import Document
from rulegen import gotemplate, k8s, promql
from rulegen.errors import SpecError

API_VERSION = "idp-slo/v1"
KIND = "SLOSpec"
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
ALERT_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")  # what Prometheus accepts
# mixtool's alert-name-camelcase: recommended (a warning), since Alertmanager routes on any.
CAMEL_CASE = re.compile(r"^([A-Z]+[a-z0-9]+)+$")
MAX_CAMEL_CASE = 40
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# A runbook fills {runbook} of defaults.runbook_url: a path, optionally ?query and #fragment.
_RUNBOOK = re.compile(r"^[A-Za-z0-9._~/%+=&?#:@-]+$")
# Characters a URL never holds unescaped (RFC 3986); `{runbook}` is replaced before the check.
_URL_FORBIDDEN = re.compile(r"[\s\"'<>{}|\\^`]")
RUNBOOK_PLACEHOLDER = "{runbook}"
# Annotations every generated alert sets itself; a spec's annotations may not replace them.
GENERATED_ANNOTATIONS = frozenset({"summary", "description", "runbook_url"})
MAX_SLO_NAME = 30  # keeps rule group names within mixtool's 40 characters


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("must be lowercase letters, digits and '-' ([a-z0-9-]+)")
    if len(value) > MAX_SLO_NAME:
        raise ValueError(f"must be at most {MAX_SLO_NAME} characters")
    return value


def k8s_name_problem(value: str) -> str | None:
    """Why `value` cannot be an SLO or spec name; None when it can."""
    try:
        _name(value)
    except ValueError as exc:
        return str(exc)
    return None


def _alert_name(value: str) -> str:
    if not ALERT_NAME.match(value):
        raise ValueError("must be a Prometheus alert name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    return value


def _label_value(value: str) -> str:
    # Alertmanager routes on any value; it must only be a usable label value.
    if not value.strip():
        raise ValueError("must not be empty")
    if "{{" in value:
        raise ValueError("must not contain template syntax '{{'")
    return value


def _duration(value: str) -> str:
    durations.parse_seconds(value)
    return value


def _label_name(value: str) -> str:
    if not promql.LABEL_NAME.match(value) or value.startswith("__"):
        raise ValueError(f"{value!r} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, no __)")
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        _label_name(key)
        if not text:
            raise ValueError(f"label {key!r}: an empty value is no label at all in Prometheus")
        if "{{" in text:
            # Alert labels are expanded as templates; a label must identify, not compute.
            raise ValueError(f"label {key!r}: values must not contain template syntax '{{{{'")
    return value


def _metric_name(value: str) -> str:
    if not promql.METRIC_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
    return value


def _runbook(value: str) -> str:
    if not _RUNBOOK.match(value):
        raise ValueError("must be a URL path fragment ([A-Za-z0-9._~/-]+)")
    return value


def check_url(url: str) -> None:
    """An absolute http(s) URL with a host; query and #fragment are fine."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or _URL_FORBIDDEN.search(url)
    ):
        raise ValueError(f"{url!r} is not an http(s) URL")


def _url(value: str) -> str:
    check_url(value)
    return value


def _url_template(value: str) -> str:
    try:
        check_url(value.replace(RUNBOOK_PLACEHOLDER, "runbook"))
    except ValueError:
        raise ValueError("must be an http(s) URL, optionally containing {runbook}") from None
    return value


def _annotations(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        _label_name(key)  # Prometheus annotation names follow the label-name rule
        if not text.strip():
            raise ValueError(f"annotation {key!r}: must not be empty")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _alert_promql(value: str) -> str:
    promql.check_alert_expr(value)
    return value.strip()


def _template(value: str) -> str:
    """Prometheus expands annotations as Go templates: one that does not parse fails the rule."""
    try:
        gotemplate.check(value)
    except gotemplate.TemplateError as exc:
        raise ValueError(
            f"invalid template (Prometheus expands it as a Go template): {exc}"
        ) from None
    return value


def _no_template(value: str) -> str:
    if "{{" in value:
        # It becomes a label of every alert, and alert labels are expanded as templates.
        raise ValueError("must not contain template syntax '{{'")
    return value


def _kube_labels(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        k8s.check_label(key, text)
    return value


def _selector(value: str) -> str:
    promql.selector(value)
    return value.strip()


def _raw(value: str) -> str:
    promql.check_raw(value)
    return value.strip()


def _raw_total(value: str) -> str:
    promql.check_raw_total(value)
    return value.strip()


def _dashboard_promql(value: str) -> str:
    promql.check_dashboard_expr(value)
    return value.strip()


def _threshold(value: str | float) -> str | float:
    if isinstance(value, str):
        durations.parse_ms(value)
    elif not value > 0:
        raise ValueError("must be a positive duration or number of seconds")
    elif value == float("inf"):
        # le="+Inf" counts every request as fast: an SLO that can never burn.
        raise ValueError("must be finite: the +Inf bucket holds every request")
    return value


Name = Annotated[str, AfterValidator(_name)]
AlertName = Annotated[str, AfterValidator(_alert_name)]
URL = Annotated[str, AfterValidator(_url)]
Annotations = Annotated[dict[str, str], AfterValidator(_annotations)]
Duration = Annotated[str, AfterValidator(_duration)]
LabelName = Annotated[str, AfterValidator(_label_name)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]
Runbook = Annotated[str, AfterValidator(_runbook)]
MetricName = Annotated[str, AfterValidator(_metric_name)]
Text = Annotated[str, AfterValidator(_text)]
AlertPromQL = Annotated[str, AfterValidator(_alert_promql)]
Template = Annotated[str, AfterValidator(_template)]
SelectorText = Annotated[str, AfterValidator(_selector)]
RawPromQL = Annotated[str, AfterValidator(_raw)]
RawTotal = Annotated[str, AfterValidator(_raw_total)]
Severity = Annotated[str, AfterValidator(_label_value)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Metadata(_Spec):
    name: Name
    labels: Labels = {}


class SeverityClass(_Spec):
    """What every alert of a class (page or ticket) carries, for all SLOs."""

    severity: Severity
    labels: Labels = {}
    annotations: Annotations = {}


class Tier(_Spec):
    """A burn-rate tier; for the four default tiers every field is an optional override."""

    alert: Literal["page", "ticket"] | None = None
    long_window: Duration | None = None
    short_window: Duration | None = None
    factor: float | None = Field(default=None, gt=0)
    for_: Duration | None = Field(default=None, alias="for")
    disabled: bool | None = None


class DefaultAlerting(_Spec):
    page: SeverityClass = SeverityClass(severity="critical")
    ticket: SeverityClass = SeverityClass(severity="warning")
    tiers: dict[Name, Tier] = {}


class Defaults(_Spec):
    window: Duration = "30d"
    scrape_interval: Duration = "30s"
    runbook_url: Annotated[str, AfterValidator(_url_template)] | None = None
    alerting: DefaultAlerting = DefaultAlerting()
    # The target labels Prometheus gives each idp-exporter replica (kube-prometheus-stack:
    # instance, pod); rules over the exporter's metrics merge series that differ only in
    # these. An empty list turns deduplication off.
    replica_labels: list[LabelName] = ["instance", "pod"]


class RatioSLI(_Spec):
    errors: SelectorText
    total: SelectorText
    group_by: list[LabelName] = []


class LatencySLI(_Spec):
    histogram: SelectorText
    threshold: Annotated[str | float, AfterValidator(_threshold)]
    # The histogram's bucket bounds (seconds), for one outside the exporter catalog: the
    # threshold must be one of them, or the SLI reads a series that never exists.
    buckets: list[float] | None = Field(default=None, min_length=1)
    group_by: list[LabelName] = []


class ProbeSLI(_Spec):
    metric: SelectorText
    group_by: list[LabelName] = []


class RawSLI(_Spec):
    """Full PromQL: error and total events, or an error ratio computed elsewhere."""

    errors: RawPromQL | None = None
    total: RawTotal | None = None
    error_ratio: RawPromQL | None = None

    @model_validator(mode="after")
    def _events_or_ratio(self) -> RawSLI:
        events = self.errors is not None or self.total is not None
        if self.error_ratio is not None and events:
            raise ValueError("give either errors and total, or error_ratio, not both")
        if self.error_ratio is None and (self.errors is None or self.total is None):
            raise ValueError("errors and total are both required (or give error_ratio alone)")
        return self


class SLI(_Spec):
    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    probe: ProbeSLI | None = None
    raw: RawSLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        given = [k for k in ("ratio", "latency", "probe", "raw") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"exactly one of ratio, latency, probe, raw is required (got {len(given)})"
            )
        return self


class ClassOverride(_Spec):
    """One SLO's page or ticket alerts: `true`/`false`, or this mapping."""

    disabled: bool = False
    severity: Severity | None = None
    labels: Labels = {}
    annotations: Annotations = {}


def _class_switch(value: object) -> object:
    # `page: false` is shorthand for `page: {disabled: true}`.
    return {"disabled": not value} if isinstance(value, bool) else value


AlertClassSetting = Annotated[ClassOverride, BeforeValidator(_class_switch)]


class SLOAlerting(_Spec):
    name: AlertName = "ErrorBudgetBurn"
    page: AlertClassSetting = ClassOverride()
    ticket: AlertClassSetting = ClassOverride()
    runbook: Runbook | None = None
    runbook_url: URL | None = None  # wins over defaults.runbook_url + runbook
    labels: Labels = {}
    annotations: Annotations = {}
    tiers: dict[Name, Tier] = {}


ClusterName = Annotated[str, AfterValidator(_label_value)]


class SLO(_Spec):
    name: Name
    service: Annotated[Text, AfterValidator(_no_template)] | None = None
    description: str = ""
    objective: float = Field(gt=0, lt=100)
    window: Duration | None = None
    # global: one SLI summed across clusters; cluster: one SLO series per cluster (topology.md).
    scope: Literal["global", "cluster"] = "global"
    # Split mode, scope global: the listed clusters that measure this SLO (default: all
    # of topology.clusters); its sums wait for these only.
    clusters: list[ClusterName] | None = Field(default=None, min_length=1)
    sli: SLI
    alerting: SLOAlerting = SLOAlerting()


class Alert(_Spec):
    name: AlertName
    expr: AlertPromQL
    for_: Duration | None = Field(default=None, alias="for")
    severity: Severity
    labels: Labels = {}
    annotations: Annotations = {}
    summary: Annotated[Text, AfterValidator(_template)]
    description: Annotated[Text, AfterValidator(_template)] | None = None
    runbook: Runbook | None = None
    runbook_url: URL | None = None  # wins over defaults.runbook_url + runbook
    # Split mode only: cluster (the default) runs in every cluster's Prometheus; global in
    # the global evaluator. None keeps "not given" apart from the default, for single mode.
    scope: Literal["cluster", "global"] | None = None


class Query(_Spec):
    expr: Annotated[str, AfterValidator(_dashboard_promql)]
    legend: str | None = None


class Panel(_Spec):
    title: Text
    type: Literal["stat", "timeseries", "gauge", "table", "bargauge"]
    unit: str | None = None
    description: str | None = None
    queries: list[Query] = Field(min_length=1)


class Row(_Spec):
    title: Text
    panels: list[Panel] = []


class Dashboard(_Spec):
    uid: Annotated[str, AfterValidator(lambda v: _check(_UID, v, "[A-Za-z0-9_-], at most 40"))]
    title: Text
    tags: list[str] = []
    variables: list[LabelName] = []
    rows: list[Row] = []


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.match(value):
        raise ValueError(f"must match {what} characters")
    return value


class Outputs(_Spec):
    """Where and how the dashboards and Kubernetes objects are rendered."""

    namespace: Name = "monitoring"
    # kube-prometheus-stack selects PrometheusRules by its Helm release label.
    rule_labels: Annotated[dict[str, str], AfterValidator(_kube_labels)] = {
        "release": "kube-prometheus-stack"
    }
    # Grafana migrates older dashboards on load; 39 is read by Grafana 10.x and 11.x.
    schema_version: int = Field(default=39, ge=36, le=42)


class GlobalLayer(_Spec):
    """Split mode: what evaluates the global rules, and in which dialect."""

    evaluator: Literal["prometheus", "thanos", "mimir"] = "prometheus"
    mimir_namespace: Name | None = None  # mimir only; default metadata.name


class Topology(_Spec):
    """Where the rules run: one Prometheus (single) or per cluster plus a global layer."""

    mode: Literal["single", "split"] = "single"
    cluster_label: LabelName = "cluster"  # the external label each cluster's Prometheus sets
    clusters: list[ClusterName] | None = Field(default=None, min_length=1)
    global_: GlobalLayer | None = Field(default=None, alias="global")


class SpecFile(_Spec):
    api_version: Literal["idp-slo/v1"] = Field(alias="apiVersion")
    kind: Literal["SLOSpec"]
    metadata: Metadata
    defaults: Defaults = Defaults()
    topology: Topology = Topology()
    slos: list[SLO] = []
    alerts: list[Alert] = []
    dashboards: list[Dashboard] = []
    # Metrics other exporters emit, by exporter. When given, every metric a rule or panel
    # reads must be in the exporter catalog, recorded by the bundle, or listed here.
    external_metrics: dict[str, list[MetricName]] | None = None
    outputs: Outputs = Outputs()


def _message(error: ErrorDetails) -> str:
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    return pydantic_message(error)


def parse(doc: Document, file: str) -> SpecFile:
    """Validate composed YAML against the schema, reporting every error with its position."""
    if not isinstance(doc.data, dict):
        raise SpecError(file, [Issue(1, 1, "", "a spec must be a YAML mapping")])
    try:
        return SpecFile.model_validate(doc.data)
    except ValidationError as exc:
        raise SpecError(file, validation_issues(exc, doc, _message)) from None


def read(path: Path) -> tuple[SpecFile, Document]:
    try:
        doc = yamlsafe.load(path, noun="spec", max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)
    except LocatedError as exc:
        raise SpecError(exc.file, exc.issues) from None
    return parse(doc, str(path)), doc
