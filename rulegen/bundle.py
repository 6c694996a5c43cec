"""Pure: model -> every generated file (relative path -> text), checked before any write.

BUNDLE is the whole bundle: one row per kind of file, where it goes and the pure function
that renders it. What several files hold (the rule groups, each dashboard's JSON) is
rendered once, into Parts, and placed as is. The lint then reads those parts once; its
findings are spec errors located in the spec (rulegen.locate), so the CLI exits 2 and
writes nothing.

A new output is one renderer and one row; a row marked `kubernetes` is also listed in
the kustomization.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from common.durations import format_seconds
from common.issues import Issue, json_path
from rulegen import dashboards, k8s, lint, locate, naming, rules, tests_gen, yamlout
from rulegen import grafana as g
from rulegen import slo_dashboards as sd
from rulegen.errors import SpecError
from rulegen.model import SLO, Model

JSON = dict[str, Any]

DEPLOY_DIR = "deploy/generated"


@dataclass(frozen=True)
class Dashboard:
    """One dashboard of the bundle, rendered once for every file that holds it."""

    uid: str
    folder: str  # the Grafana folder its ConfigMap files it under
    data: JSON  # Grafana's JSON model, as the lint reads it
    text: str  # its bytes, in dashboards/<uid>.json and inside its ConfigMap


@dataclass(frozen=True)
class Parts:
    """What the renderers read, each part built once."""

    model: Model
    groups: yamlout.Rendered  # the rule groups, written once, placed in two files
    # The same groups cut into PrometheusRules small enough for `kubectl apply`.
    rule_objects: tuple[yamlout.Rendered, ...]
    dashboards: tuple[Dashboard, ...]
    deploy: k8s.DeployOptions


class Output(Protocol):
    """A row of BUNDLE: one kind of generated file."""

    @property
    def kubernetes(self) -> bool:
        """A Kubernetes object: listed in the kustomization."""
        ...

    def paths(self, parts: Parts) -> list[str]: ...

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]: ...


def _always(_: Parts) -> bool:
    return True


@dataclass(frozen=True)
class One:
    """One file per bundle, where `wanted`; `{spec}` in its path is the spec's name."""

    path: str
    render: Callable[[Parts], str]
    kubernetes: bool = False
    wanted: Callable[[Parts], bool] = _always

    def paths(self, parts: Parts) -> list[str]:
        return [self.path.format(spec=parts.model.name)] if self.wanted(parts) else []

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]:
        for path in self.paths(parts):
            yield path, self.render(parts)


@dataclass(frozen=True)
class EachDashboard:
    """One file per dashboard; `{uid}` in its path is its uid, `{configmap}` its ConfigMap."""

    path: str
    render: Callable[[Parts, Dashboard], str]
    kubernetes: bool = False

    def _path(self, d: Dashboard) -> str:
        return self.path.format(uid=d.uid, configmap=k8s.configmap_name(d.uid))

    def paths(self, parts: Parts) -> list[str]:
        return [self._path(d) for d in parts.dashboards]

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]:
        for d in parts.dashboards:
            yield self._path(d), self.render(parts, d)


@dataclass(frozen=True)
class EachRuleObject:
    """One file per PrometheusRule; `{n}` in its path is empty for the first, then -2, -3..."""

    path: str
    render: Callable[[Parts, int], str]
    kubernetes: bool = False

    def paths(self, parts: Parts) -> list[str]:
        return [
            self.path.format(n=f"-{i + 1}" if i else "") for i in range(len(parts.rule_objects))
        ]

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]:
        for i, path in enumerate(self.paths(parts)):
            yield path, self.render(parts, i)


# ----------------------------------------------------------------------------- renderers


def _yaml(obj: Any) -> str:
    return naming.HEADER + k8s.to_yaml(obj)


def _rules_file(p: Parts) -> str:
    return yamlout.dump({"groups": p.groups}, naming.HEADER)


def _has_threshold_alerts(p: Parts) -> bool:
    return bool(p.model.alerts)


def _threshold_rules_file(p: Parts) -> str:
    """The threshold groups alone, cut from the rules file's text: hand-written tests of the
    threshold alerts load this, since promtool evaluates every rule it loads at every step."""
    names = {group.name for group in rules.threshold_groups(p.model)}
    chosen = [g for g in p.groups.items() if g.data[0]["name"] in names]
    return yamlout.dump({"groups": yamlout.Rendered.join(chosen)}, naming.HEADER)


def _tests_file(p: Parts) -> str:
    return yamlout.dump_tests(*tests_gen.suite(p.model), naming.HEADER)


def _settled_tests_file(p: Parts) -> str:
    return yamlout.dump_tests(*tests_gen.settled_suite(p.model), naming.HEADER)


def _dashboard_json(_: Parts, d: Dashboard) -> str:
    return d.text


def _provisioning_dashboards(_: Parts) -> str:
    return _yaml(k8s.dashboard_provider())


def _provisioning_datasources(p: Parts) -> str:
    return _yaml(k8s.datasource_example(p.deploy))


def _prometheus_rule(p: Parts, index: int) -> str:
    name = k8s.prometheus_rule_name(p.model.name, index)
    return _yaml(k8s.prometheus_rule(name, p.rule_objects[index], p.deploy))


def _dashboard_configmap(p: Parts, d: Dashboard) -> str:
    return _yaml(k8s.dashboard_configmap(d.uid, d.folder, d.text, p.deploy))


def _kustomization(p: Parts) -> str:
    resources = [
        posixpath.relpath(path, DEPLOY_DIR)
        for row in BUNDLE
        if row.kubernetes
        for path in row.paths(p)
    ]
    return _yaml(k8s.kustomization(resources, p.deploy.namespace))


def _alertmanager(_: Parts) -> str:
    return _yaml(k8s.alertmanager_example())


BUNDLE: tuple[Output, ...] = (
    One("alerts/{spec}.rules.yml", _rules_file),
    One("alerts/tests/{spec}.test.yml", _tests_file),
    One("alerts/tests/{spec}.settled.test.yml", _settled_tests_file),
    One(
        "alerts/tests/{spec}.thresholds.rules.yml",
        _threshold_rules_file,
        wanted=_has_threshold_alerts,
    ),
    EachDashboard("dashboards/{uid}.json", _dashboard_json),
    One("dashboards/provisioning/dashboards.yml", _provisioning_dashboards),
    One("dashboards/provisioning/datasources.yml", _provisioning_datasources),
    EachRuleObject(f"{DEPLOY_DIR}/prometheusrule{{n}}.yaml", _prometheus_rule, kubernetes=True),
    EachDashboard(f"{DEPLOY_DIR}/{{configmap}}.yaml", _dashboard_configmap, kubernetes=True),
    One(f"{DEPLOY_DIR}/kustomization.yaml", _kustomization),
    # An example to adapt, not a Kubernetes object: kept out of `kubectl apply -k`.
    One(f"{DEPLOY_DIR}/alertmanager/alertmanager.yml", _alertmanager),
)


# ----------------------------------------------------------------------------- assembly


def render(model: Model) -> dict[str, str]:
    """Every file of the bundle; SpecError with every lint finding, located in the spec."""
    parts = parts_of(model)
    files = {path: text for row in BUNDLE for path, text in row.files(parts)}
    # The lint also parses every generated rule expression: nothing is written on a finding.
    findings = lint.lint_bundle(
        [d.data for d in parts.dashboards], parts.groups.data, model.external_metrics
    )
    if findings:
        raise SpecError(model.file, locate.issues(model, findings))
    return files


def parts_of(model: Model) -> Parts:
    """Render once what several files hold: the rule groups and every dashboard."""
    groups = yamlout.Rendered([group.as_dict() for group in rules.groups(model)])
    return Parts(
        model=model,
        groups=groups,
        rule_objects=tuple(_rule_objects(model, groups)),
        dashboards=tuple(_rendered(d, folder) for d, folder in _dashboards(model)),
        deploy=k8s.DeployOptions(
            namespace=model.outputs.namespace,
            rule_labels=dict(model.outputs.rule_labels),
            scrape_interval=format_seconds(model.scrape_interval),
        ),
    )


def _rule_objects(model: Model, groups: yamlout.Rendered) -> list[yamlout.Rendered]:
    """The groups cut into PrometheusRules; SpecError if one group alone is too big."""
    items = groups.items()
    sizes = [k8s.group_bytes(group) for group in items]
    issues = []
    for group, size in zip(items, sizes, strict=True):
        if size > k8s.MAX_GROUP_BYTES:
            name = str(group.data[0]["name"])
            path = locate.group_path(model, name)
            line, col = model.doc.position(path) if model.doc is not None else (1, 1)
            issues.append(
                Issue(
                    line,
                    col,
                    json_path(path),
                    f"rule group {name} is {size} bytes serialized; a PrometheusRule must stay "
                    f"under {k8s.MAX_OBJECT_BYTES // 1024} KiB for `kubectl apply`, and a group "
                    "cannot be split: shorten its expressions or annotations",
                )
            )
    if issues:
        raise SpecError(model.file, issues)
    return k8s.split_rule_groups(items, sizes)


def _rendered(d: g.Dashboard, folder: str) -> Dashboard:
    data = g.render(d)
    return Dashboard(d.uid, folder, data, g.to_json(data))


def _dashboards(model: Model) -> list[tuple[g.Dashboard, str]]:
    """(dashboard, folder): the spec's own first, in spec order, then the generated ones."""
    version = model.outputs.schema_version
    out = [(dashboards.from_spec(d, version), dashboards.FOLDER) for d in model.dashboards]
    if model.slos:
        views = [slo_view(model, s) for s in model.slos]
        out += [(sd.overview(views, version), sd.FOLDER), (sd.detail(views, version), sd.FOLDER)]
    return out


def slo_view(model: Model, s: SLO) -> sd.SloView:
    """What the SLO dashboards read of an SLO."""
    return sd.SloView(
        spec=model.name,
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
