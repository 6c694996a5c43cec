"""Pure: model -> every generated file (relative path -> text), checked before any write.

BUNDLE is the whole bundle: one row per kind of file, where it goes and the pure function
that renders it. What several files hold (the rule groups, each dashboard's JSON) is
rendered once, into Parts, and placed as is. The lint then reads those parts once; its
findings are spec errors located in the spec (rulegen.locate), so the CLI exits 2 and
writes nothing.

A new output is one renderer and one row; a row marked `kubernetes` is also listed in
the kustomization. Rows wrapped in `When` exist in one topology only: single mode writes
one rules file, split mode a cluster file, a global file and the global layer's objects
under deploy/generated/global/ (docs/topology.md).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from common.durations import format_seconds
from common.issues import Issue, json_path
from rulegen import (
    dashboards,
    k8s,
    lint,
    locate,
    naming,
    rules,
    rules_split,
    tests_gen,
    tests_split,
    yamlout,
)
from rulegen import grafana as g
from rulegen import slo_dashboards as sd
from rulegen.errors import SpecError
from rulegen.model import SLO, Model
from rulegen.topology import Topology

JSON = dict[str, Any]

DEPLOY_DIR = "deploy/generated"
GLOBAL_DIR = f"{DEPLOY_DIR}/global"  # split mode: what the global layer loads


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
    # The rule groups, written once, placed in two files (split mode: the cluster file's).
    groups: yamlout.Rendered
    # The same groups cut into PrometheusRules small enough for `kubectl apply`.
    rule_objects: tuple[yamlout.Rendered, ...]
    dashboards: tuple[Dashboard, ...]
    deploy: k8s.DeployOptions
    # Split mode: the global rules file's groups; the same as the evaluator takes them
    # (Thanos: with their partial response strategy), and those cut into PrometheusRules.
    global_groups: yamlout.Rendered | None = None
    evaluator_groups: yamlout.Rendered | None = None
    global_objects: tuple[yamlout.Rendered, ...] = ()
    # Split mode: the global file's tests, (the longest test, the rest), for two files.
    global_tests: tuple[tests_split.Suite, tests_split.Suite] | None = None


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


def _rule_objects_of(parts: Parts) -> Sequence[yamlout.Rendered]:
    return parts.rule_objects


@dataclass(frozen=True)
class EachRuleObject:
    """One file per PrometheusRule; `{n}` in its path is empty for the first, then -2, -3..."""

    path: str
    render: Callable[[Parts, int], str]
    kubernetes: bool = False
    objects: Callable[[Parts], Sequence[yamlout.Rendered]] = _rule_objects_of

    def paths(self, parts: Parts) -> list[str]:
        return [
            self.path.format(n=f"-{i + 1}" if i else "") for i in range(len(self.objects(parts)))
        ]

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]:
        for i, path in enumerate(self.paths(parts)):
            yield path, self.render(parts, i)


@dataclass(frozen=True)
class When:
    """A row rendered only for the topologies `applies` accepts."""

    applies: Callable[[Topology], bool]
    row: Output

    @property
    def kubernetes(self) -> bool:
        return self.row.kubernetes

    def paths(self, parts: Parts) -> list[str]:
        return self.row.paths(parts) if self.applies(parts.model.topology) else []

    def files(self, parts: Parts) -> Iterator[tuple[str, str]]:
        if self.applies(parts.model.topology):
            yield from self.row.files(parts)


def _single(t: Topology) -> bool:
    return not t.split


def _split(t: Topology) -> bool:
    return t.split


def _global_rule_objects(t: Topology) -> bool:
    """A central Prometheus or a ThanosRuler selects PrometheusRules; Mimir does not."""
    return t.split and t.evaluator != "mimir"


def _mimir(t: Topology) -> bool:
    return t.split and t.evaluator == "mimir"


# ----------------------------------------------------------------------------- renderers


def _yaml(obj: Any) -> str:
    return naming.HEADER + k8s.to_yaml(obj)


def _rules_file(p: Parts) -> str:
    return yamlout.dump({"groups": p.groups}, naming.HEADER)


def _global_rules_file(p: Parts) -> str:
    return yamlout.dump({"groups": p.global_groups}, naming.HEADER)


def _mimir_file(p: Parts) -> str:
    assert p.evaluator_groups is not None  # split mode
    namespace = k8s.mimir_namespace(p.model.topology.mimir_namespace, p.evaluator_groups)
    return yamlout.dump(namespace, naming.HEADER + _MIMIR_NOTE)


_MIMIR_NOTE = (
    "# mimirtool rules load FILE (or sync --namespaces=<namespace>); the tenant is\n"
    "# mimirtool's --id or MIMIR_TENANT_ID (docs/topology.md).\n"
)


def _remote_write(p: Parts) -> str:
    t = p.model.topology
    example = k8s.remote_write_example(
        t.cluster_label, t.clusters[0], t.evaluator, p.model.name, p.deploy
    )
    note = (
        f"# Each cluster's Prometheus (prometheus.yml): its own name as the {t.cluster_label}\n"
        f"# external label (one of: {', '.join(t.clusters)}), and remote_write of the\n"
        "# base recordings only. Adapt the URL; docs/topology.md has the operator form.\n"
    )
    return naming.HEADER + note + k8s.to_yaml(example)


def _has_threshold_alerts(p: Parts) -> bool:
    """Alerts that run where the raw series are (every alert in single mode)."""
    return bool(p.model.alerts_in("cluster"))


def _threshold_rules_file(p: Parts) -> str:
    """The threshold groups alone, cut from the rules file's text: hand-written tests of the
    threshold alerts load this, since promtool evaluates every rule it loads at every step."""
    local = p.model.alerts_in("cluster")
    names = {group.name for group in rules.threshold_groups(p.model, local)}
    chosen = [g for g in p.groups.items() if g.data[0]["name"] in names]
    return yamlout.dump({"groups": yamlout.Rendered.join(chosen)}, naming.HEADER)


def _tests_file(p: Parts) -> str:
    return yamlout.dump_tests(*tests_gen.suite(p.model), naming.HEADER)


def _cluster_tests_file(p: Parts) -> str:
    return yamlout.dump_tests(*tests_split.suite_cluster(p.model), naming.HEADER)


def _global_tests_file(p: Parts) -> str:
    assert p.global_tests is not None  # split mode
    return yamlout.dump_tests(*p.global_tests[1], naming.HEADER)


def _global_long_tests_file(p: Parts) -> str:
    assert p.global_tests is not None  # split mode
    return yamlout.dump_tests(*p.global_tests[0], naming.HEADER)


def _settled_tests_file(p: Parts) -> str:
    return yamlout.dump_tests(*tests_gen.settled_suite(p.model), naming.HEADER)


def _dashboard_json(_: Parts, d: Dashboard) -> str:
    return d.text


def _provisioning_dashboards(_: Parts) -> str:
    return _yaml(k8s.dashboard_provider())


def _provisioning_datasources(p: Parts) -> str:
    return _yaml(k8s.datasource_example(p.deploy))


def _prometheus_rule(p: Parts, index: int) -> str:
    if not p.model.topology.split:
        name = k8s.prometheus_rule_name(p.model.name, index)
        return _yaml(k8s.prometheus_rule(name, p.rule_objects[index], p.deploy))
    # Every cluster's Prometheus selects it by outputs.rule_labels, as in single mode.
    labels = {**p.deploy.rule_labels, k8s.LAYER_LABEL: "cluster"}
    name = k8s.prometheus_rule_name(f"{p.model.name}-cluster", index)
    return _yaml(
        k8s.prometheus_rule(name, p.rule_objects[index], replace(p.deploy, rule_labels=labels))
    )


def _global_objects_of(parts: Parts) -> Sequence[yamlout.Rendered]:
    return parts.global_objects


def _global_prometheus_rule(p: Parts, index: int) -> str:
    name = k8s.prometheus_rule_name(f"{p.model.name}-global", index)
    opts = replace(p.deploy, rule_labels={k8s.LAYER_LABEL: "global"})
    return _yaml(k8s.prometheus_rule(name, p.global_objects[index], opts))


def _global_kustomization(p: Parts) -> str:
    resources = [posixpath.relpath(path, GLOBAL_DIR) for path in _GLOBAL_OBJECTS.paths(p)]
    return _yaml(k8s.kustomization(resources, p.deploy.namespace))


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


_GLOBAL_OBJECTS = When(
    _global_rule_objects,
    EachRuleObject(
        f"{GLOBAL_DIR}/prometheusrule{{n}}.yaml",
        _global_prometheus_rule,
        objects=_global_objects_of,
    ),
)

# Split mode's generated promtool tests, one file per rules file.
SPLIT_TESTS: tuple[Output, ...] = (
    When(_split, One("alerts/tests/{spec}.cluster.test.yml", _cluster_tests_file)),
    When(_split, One("alerts/tests/{spec}.global.test.yml", _global_tests_file)),
    When(_split, One("alerts/tests/{spec}.global.long.test.yml", _global_long_tests_file)),
)

BUNDLE: tuple[Output, ...] = (
    When(_single, One("alerts/{spec}.rules.yml", _rules_file)),
    When(_single, One("alerts/tests/{spec}.test.yml", _tests_file)),
    When(_single, One("alerts/tests/{spec}.settled.test.yml", _settled_tests_file)),
    # Split: both files load in promtool (`check`, the generated tests) as they are.
    When(_split, One(naming.cluster_rules_file("{spec}"), _rules_file)),
    When(_split, One(naming.global_rules_file("{spec}"), _global_rules_file)),
    *SPLIT_TESTS,
    One(
        "alerts/tests/{spec}.thresholds.rules.yml",
        _threshold_rules_file,
        wanted=_has_threshold_alerts,
    ),
    EachDashboard("dashboards/{uid}.json", _dashboard_json),
    One("dashboards/provisioning/dashboards.yml", _provisioning_dashboards),
    One("dashboards/provisioning/datasources.yml", _provisioning_datasources),
    When(
        _single,
        EachRuleObject(f"{DEPLOY_DIR}/prometheusrule{{n}}.yaml", _prometheus_rule, kubernetes=True),
    ),
    # Split: what every cluster's overlay loads (through this kustomization).
    When(
        _split,
        EachRuleObject(
            f"{DEPLOY_DIR}/prometheusrule-cluster{{n}}.yaml", _prometheus_rule, kubernetes=True
        ),
    ),
    EachDashboard(f"{DEPLOY_DIR}/{{configmap}}.yaml", _dashboard_configmap, kubernetes=True),
    One(f"{DEPLOY_DIR}/kustomization.yaml", _kustomization),
    # An example to adapt, not a Kubernetes object: kept out of `kubectl apply -k`.
    One(f"{DEPLOY_DIR}/alertmanager/alertmanager.yml", _alertmanager),
    # Split: the global layer's own, never in the clusters' kustomization.
    _GLOBAL_OBJECTS,
    When(_global_rule_objects, One(f"{GLOBAL_DIR}/kustomization.yaml", _global_kustomization)),
    When(_mimir, One(naming.global_mimir_file("{spec}"), _mimir_file)),
    When(_split, One(f"{GLOBAL_DIR}/remote-write.yaml", _remote_write)),
)


# ----------------------------------------------------------------------------- assembly


def render(model: Model) -> dict[str, str]:
    """Every file of the bundle; SpecError with every lint finding, located in the spec."""
    parts = parts_of(model)
    files = {path: text for row in BUNDLE for path, text in row.files(parts)}
    # The lint also parses every generated rule expression: nothing is written on a finding.
    groups = [*parts.groups.data, *(parts.global_groups.data if parts.global_groups else [])]
    findings = lint.lint_bundle([d.data for d in parts.dashboards], groups, model.external_metrics)
    if findings:
        raise SpecError(model.file, locate.issues(model, findings))
    return files


def parts_of(model: Model) -> Parts:
    """Render once what several files hold: the rule groups and every dashboard."""
    split = model.topology.split
    local = rules_split.cluster_groups(model) if split else rules.groups(model)
    groups = _rendered_groups(local)
    parts = Parts(
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
    return _with_global(parts) if split else parts


def _rendered_groups(groups: Sequence[rules.Group]) -> yamlout.Rendered:
    return yamlout.Rendered([group.as_dict() for group in groups])


def _with_global(parts: Parts) -> Parts:
    """Split mode: the global file's groups, as the evaluator takes them, and its objects."""
    model = parts.model
    plain = rules_split.global_groups(model)
    dialect = rules_split.for_evaluator(model, plain)
    global_groups = _rendered_groups(plain)
    evaluator = global_groups if dialect == plain else _rendered_groups(dialect)
    objects = _rule_objects(model, evaluator) if _global_rule_objects(model.topology) else []
    return replace(
        parts,
        global_groups=global_groups,
        evaluator_groups=evaluator,
        global_objects=tuple(objects),
        global_tests=tests_split.suite_global(model),
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
    where = model.topology
    # The base recordings tell clusters apart in split mode (the external label) and for a
    # scope: cluster SLO; in single mode that SLO's group_by already holds the label.
    return sd.SloView(
        cluster_label=where.cluster_label if where.split or s.scope == "cluster" else "",
        scope=s.scope if where.split else "global",
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
