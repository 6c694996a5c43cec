"""Sloth -> idp-slo SLOs: `prometheus/v1` specs and `sloth.slok.dev/v1` PrometheusServiceLevel
objects (the same content under `spec`, with camelCase keys).

Events queries of the shape `sum(rate(SEL[{{.window}}]))` become a `ratio` SLI over the
bare selectors (cheaper rules, catalog-checked); any other query stays PromQL (`raw`, with
`$window`). `raw.error_ratio_query` becomes `raw.error_ratio`. Plugins are Sloth code and
are reported, not imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common.issues import JsonPath as Path_
from common.issues import json_path
from rulegen import naming, promql, spec
from rulegen.importers import queries
from rulegen.importers.output import ImportedSLO, k8s_name
from rulegen.importers.source import Located, Note, Source

PLAIN_VERSION = "prometheus/v1"
CRD_API_VERSION = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"
_WINDOW = re.compile(r"\{\{\s*\.window\s*\}\}")
_NOT_SLOTH = (
    "not a Sloth file: expected `version: prometheus/v1`, or `apiVersion: sloth.slok.dev/v1` "
    "with `kind: PrometheusServiceLevel`"
)
_VECTOR_ZERO_DROPPED = (
    "the `or on() vector(0)` ending is dropped: idp-slo already counts absent error series "
    "as 0 wherever there are events (and a constant series would shadow the rules' own)"
)


@dataclass(frozen=True)
class _Keys:
    """The two spellings of the same Sloth fields."""

    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str


PLAIN = _Keys("error_query", "total_query", "error_ratio_query", "page_alert", "ticket_alert")
CRD = _Keys("errorQuery", "totalQuery", "errorRatioQuery", "pageAlert", "ticketAlert")


def convert(sources: list[Source], notes: list[Note]) -> list[ImportedSLO]:
    out = []
    for src in sources:
        for doc in src.docs:
            loc = Located(src.file, doc, notes)
            data = doc.data if isinstance(doc.data, dict) else {}
            if data.get("version") == PLAIN_VERSION:
                out += _service(loc, (), PLAIN)
            elif data.get("apiVersion") == CRD_API_VERSION and data.get("kind") == CRD_KIND:
                out += _service(loc, ("spec",), CRD)
            else:
                loc.note((), _NOT_SLOTH)
    return out


def _service(loc: Located, base: Path_, keys: _Keys) -> list[ImportedSLO]:
    service = loc.text((*base, "service"), "service")
    slos = loc.get((*base, "slos"))
    if service is None or not isinstance(slos, list) or not slos:
        loc.note(base, "nothing imported: a Sloth spec needs a service and a list of slos")
        return []
    labels = loc.strings((*base, "labels"), "label")
    found = (_slo(loc, (*base, "slos", i), keys, service, labels) for i in range(len(slos)))
    return [slo for slo in found if slo is not None]


def _slo(
    loc: Located, path: Path_, keys: _Keys, service: str, labels: dict[str, str]
) -> ImportedSLO | None:
    given = loc.text((*path, "name"), "name")
    if given is None:
        loc.note(path, "Sloth SLO not imported: it has no name")
        return None
    origin = f"Sloth SLO {given!r}"
    objective = loc.get((*path, "objective"))
    if not isinstance(objective, int | float) or isinstance(objective, bool):
        loc.note((*path, "objective"), f"{origin} not imported: objective must be a number")
        return None
    if not 0 < objective < 100:
        loc.note(
            (*path, "objective"),
            f"{origin} not imported: idp-slo objectives are between 0 and 100 (exclusive)",
        )
        return None
    sli = _sli(loc, (*path, "sli"), keys, origin)
    if sli is None:
        return None
    name = k8s_name(given)
    if name != given:
        loc.note((*path, "name"), f"{origin} is named {name!r} ([a-z0-9-], at most 30)")
    data: dict[str, Any] = {"name": name, "service": service}
    description = loc.text((*path, "description"), "description")
    if description:
        data["description"] = description
    data["objective"] = objective
    data["sli"] = sli
    alerting = _alerting(loc, (*path, "alerting"), keys)
    if alerting:
        data["alerting"] = alerting
    line, col = loc.position(path)
    own = {**labels, **loc.strings((*path, "labels"), "label")}
    return ImportedSLO(data, loc.file, line, col, json_path(path), origin, own)


def _sli(loc: Located, path: Path_, keys: _Keys, origin: str) -> dict[str, Any] | None:
    if loc.get((*path, "plugin")) is not None:
        loc.note(
            (*path, "plugin"),
            f"{origin} not imported: SLI plugins run Sloth's own code; "
            "write the plugin's queries as events or raw",
        )
        return None
    if loc.get((*path, "events")) is not None:
        errors = _query(loc, (*path, "events", keys.error_query), origin)
        total = _query(loc, (*path, "events", keys.total_query), origin)
        if errors is None or total is None:
            return None
        return _events(loc, (*path, "events"), errors, total)
    if loc.get((*path, "raw")) is not None:
        ratio = _query(loc, (*path, "raw", keys.error_ratio_query), origin)
        return None if ratio is None else {"raw": {"error_ratio": ratio}}
    loc.note(path, f"{origin} not imported: its SLI has neither events nor raw")
    return None


def _query(loc: Located, path: Path_, origin: str) -> str | None:
    """The query with `$window` for `{{.window}}`, parsed; None (noted) when unusable."""
    text = loc.text(path, "a query")
    problem = None
    if text is None and loc.get(path) is not None:
        return None  # not a string: noted by loc.text
    if text is None:
        problem = "the query is missing"
    elif not _WINDOW.search(text):
        problem = "the query must use {{.window}} as its range"
    else:
        text = _WINDOW.sub(queries.WINDOW, text)
        if "{{" in text:
            problem = "Sloth template variables other than {{.window}} are not supported"
        else:
            try:
                queries.parse(text)
            except ValueError as exc:
                problem = str(exc)
    if problem is not None or text is None:
        loc.note(path, f"{origin} not imported: {problem}")
        return None
    stripped = queries.strip_vector_zero(text)
    if stripped is not None:
        loc.note(path, _VECTOR_ZERO_DROPPED)
        return stripped
    return text


def _events(loc: Located, path: Path_, errors: str, total: str) -> dict[str, Any]:
    e, t = queries.counter_sum(errors), queries.counter_sum(total)
    same_shape = (
        e is not None
        and t is not None
        and (e.function, e.group_by) == (t.function, t.group_by)
        and not set(e.group_by) & naming.RESERVED_LABELS
    )
    if same_shape and e is not None and t is not None:
        ratio: dict[str, Any] = {"errors": e.selector.render(), "total": t.selector.render()}
        if e.group_by:
            ratio["group_by"] = list(e.group_by)
        return {"ratio": ratio}
    if (e is not None and e.group_by) or (t is not None and t.group_by):
        loc.note(path, "`sum by (...)` is summed over: a raw SLI is one series per SLO")
    return {"raw": {"errors": errors, "total": total}}


@dataclass
class _Routing:
    severity: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    runbook_url: str | None


def _routing(loc: Located, path: Path_) -> _Routing:
    """Labels and annotations as idp-slo takes them; what it cannot take is noted."""
    severity = None
    labels = {}
    for key, value in loc.strings((*path, "labels"), "label").items():
        if key == naming.LABEL_SEVERITY and value.strip() and "{{" not in value:
            severity = value
        elif key in naming.RESERVED_LABELS:
            loc.note((*path, "labels", key), f"label {key!r} is set by idp-rulegen; dropped")
        else:
            labels[key] = value
    annotations, runbook = {}, None
    for key, value in loc.strings((*path, "annotations"), "annotation").items():
        where = (*path, "annotations", key)
        if key == "runbook_url" and _is_url(value):
            runbook = value
        elif key in spec.GENERATED_ANNOTATIONS:
            loc.note(where, f"annotation {key!r} is written by idp-rulegen; dropped")
        elif "{{" in value:
            loc.note(
                where,
                f"annotation {key!r} dropped: templates are not supported on SLO alerts "
                "(the generated tests check their annotations as written)",
            )
        elif not promql.LABEL_NAME.match(key):
            loc.note(where, f"annotation {key!r} is not a valid annotation name; dropped")
        else:
            annotations[key] = value
    return _Routing(severity, labels, annotations, runbook)


def _is_url(value: str) -> bool:
    try:
        spec.check_url(value)
    except ValueError:
        return False
    return True


def _alerting(loc: Located, path: Path_, keys: _Keys) -> dict[str, Any]:
    if loc.get(path) is None:
        return {}
    out: dict[str, Any] = {}
    name = loc.text((*path, "name"), "alert name")
    if name is not None and spec.ALERT_NAME.match(name):
        out["name"] = name
    elif name is not None:
        loc.note((*path, "name"), f"alert name {name!r} is not a Prometheus alert name; dropped")
    shared = _routing(loc, path)
    if shared.runbook_url:
        out["runbook_url"] = shared.runbook_url
    if shared.labels:
        out["labels"] = shared.labels
    if shared.annotations:
        out["annotations"] = shared.annotations
    for cls, key in (("page", keys.page_alert), ("ticket", keys.ticket_alert)):
        setting = _class(loc, (*path, key), shared, out)
        if setting is not None:
            out[cls] = setting
    return out


def _class(
    loc: Located, path: Path_, shared: _Routing, out: dict[str, Any]
) -> bool | dict[str, Any] | None:
    """A page/ticket alert's settings; None when it has none of its own."""
    if loc.get(path) is None:
        return {"severity": shared.severity} if shared.severity else None
    if loc.get((*path, "disable")) is True:
        return False
    own = _routing(loc, path)
    if own.runbook_url:
        if "runbook_url" in out:
            loc.note((*path, "annotations", "runbook_url"), "one runbook URL per SLO; dropped")
        else:
            loc.note(
                (*path, "annotations", "runbook_url"),
                "runbook_url applies to all of this SLO's alerts (one runbook URL per SLO)",
            )
            out["runbook_url"] = own.runbook_url
    setting: dict[str, Any] = {}
    if own.severity or shared.severity:
        setting["severity"] = own.severity or shared.severity
    if own.labels:
        setting["labels"] = own.labels
    if own.annotations:
        setting["annotations"] = own.annotations
    return setting or None
