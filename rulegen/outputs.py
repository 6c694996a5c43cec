"""Pure: model + rule groups -> dashboards, provisioning and Kubernetes files, after the lint.

Lint findings come back located in the spec (a path such as
`dashboards[0].rows[1].panels[2].queries[0].expr`), so the CLI can report them as
FILE:LINE:COL like every other spec error and write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.durations import format_seconds
from common.issues import Issue, json_path
from rulegen import dashboards, k8s, lint, naming, yamlout
from rulegen import grafana as g
from rulegen import slo_dashboards as sd
from rulegen.model import SLO, Model

JSON = dict[str, Any]
Path_ = tuple[str | int, ...]

DASHBOARD_DIR = "dashboards"
PROVISIONING_DIR = "dashboards/provisioning"
DEPLOY_DIR = "deploy/generated"


@dataclass(frozen=True)
class Located:
    """A lint finding and the spec path it comes from."""

    path: Path_
    finding: lint.Finding


@dataclass(frozen=True)
class Outputs:
    files: dict[str, str]
    problems: tuple[Located, ...]


def slo_view(s: SLO) -> sd.SloView:
    return sd.SloView(
        name=s.name,
        service=s.service,
        objective=float(s.target),
        period=s.period,
        base_window=s.base,
        group_by=tuple(s.sli.group_by),
        tiers=tuple(
            sd.TierView(t.name, t.alert, t.severity, t.long, t.short, float(t.factor))
            for t in s.tiers
        ),
    )


def _dashboards(model: Model) -> list[tuple[g.Dashboard, str]]:
    """(dashboard, folder): the spec's own first, in spec order, then the generated ones."""
    version = model.outputs.schema_version
    out = [(dashboards.from_spec(d, version), dashboards.FOLDER) for d in model.dashboards]
    if model.slos:
        views = [slo_view(s) for s in model.slos]
        out += [(sd.overview(views, version), sd.FOLDER), (sd.detail(views, version), sd.FOLDER)]
    return out


def issues(model: Model, problems: Sequence[Located]) -> list[Issue]:
    """Findings as spec errors: FILE:LINE:COL: path: [where] rule: message."""
    out = []
    for p in problems:
        line, col = model.doc.position(p.path) if model.doc is not None else (1, 1)
        f = p.finding
        out.append(Issue(line, col, json_path(p.path), f"{f.location}: {f.rule}: {f.message}"))
    return out


def render(model: Model, groups: yamlout.Rendered) -> Outputs:
    """Everything but the rules and their tests, from the model and the rule groups."""
    built = _dashboards(model)
    rendered = [g.render(d) for d, _ in built]
    findings = lint.lint_bundle(rendered, groups.data, model.external_metrics)
    problems = tuple(Located(locate(model, f), f) for f in findings)
    opts = k8s.DeployOptions(
        namespace=model.outputs.namespace,
        rule_labels=dict(model.outputs.rule_labels),
        scrape_interval=format_seconds(model.scrape_interval),
    )
    files: dict[str, str] = {}
    resources = ["prometheusrule.yaml"]
    files[f"{DEPLOY_DIR}/prometheusrule.yaml"] = _yaml(
        k8s.prometheus_rule(model.name, groups, opts)
    )
    for (d, folder), data in zip(built, rendered, strict=True):
        text = g.to_json(data)
        files[f"{DASHBOARD_DIR}/{d.uid}.json"] = text
        name = f"{k8s.k8s_name('grafana-dashboard-' + d.uid)}.yaml"
        files[f"{DEPLOY_DIR}/{name}"] = _yaml(k8s.dashboard_configmap(d.uid, folder, text, opts))
        resources.append(name)
    files[f"{DEPLOY_DIR}/kustomization.yaml"] = _yaml(k8s.kustomization(resources, opts.namespace))
    # Not a Kubernetes object: kept out of the kustomization and of `kubectl apply -f`.
    files[f"{DEPLOY_DIR}/alertmanager/alertmanager.yml"] = _yaml(k8s.alertmanager_example())
    files[f"{PROVISIONING_DIR}/dashboards.yml"] = _yaml(k8s.dashboard_provider())
    files[f"{PROVISIONING_DIR}/datasources.yml"] = _yaml(k8s.datasource_example(opts))
    return Outputs(files, problems)


def _yaml(obj: Any) -> str:
    return naming.HEADER + k8s.to_yaml(obj)


# ----------------------------------------------------------------------------- locations


def locate(model: Model, f: lint.Finding) -> Path_:
    """The spec path a finding comes from (as close as the finding allows)."""
    w = f.location
    if w.group:
        return _rule_path(model, w)
    index = next((i for i, d in enumerate(model.dashboards) if d.uid == w.uid), None)
    if index is None:
        # A generated SLO dashboard reads what the SLOs record: point at them.
        return ("slos",)
    base: Path_ = ("dashboards", index)
    d = model.dashboards[index]
    if w.variable:
        names = list(d.variables)
        return (*base, "variables", names.index(w.variable)) if w.variable in names else base
    if w.panel_id < 0:
        return (*base, "uid") if f.rule.startswith("dashboard-") else base
    panel = _panel_path(d, w.panel_id)
    if panel is None:
        return base
    path: Path_ = (*base, *panel)
    if w.target >= 0:
        return (*path, "queries", w.target, "expr")
    if f.rule == "panel-units-rule":
        return (*path, "unit")
    return path


def _panel_path(d: Any, panel_id: int) -> Path_ | None:
    """Panel ids follow grafana._layout: each row, then its panels, numbered from 1."""
    next_id = 1
    for r, row in enumerate(d.rows):
        if next_id == panel_id:
            return ("rows", r)
        next_id += 1
        for p in range(len(row.panels)):
            if next_id == panel_id:
                return ("rows", r, "panels", p)
            next_id += 1
    return None


def _rule_path(model: Model, w: lint.Where) -> Path_:
    for i, a in enumerate(model.alerts):
        if a.name == w.rule_name:
            return ("alerts", i, "expr")
    for i, s in enumerate(model.slos):
        if w.group in (naming.fast_group(s.name), naming.slow_group(s.name)):
            return ("slos", i, "sli")
    return ()
