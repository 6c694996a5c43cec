"""Pure renderers for what Kubernetes, Grafana provisioning, Alertmanager and, in split
mode, the global layer (Mimir ruler, the clusters' remote_write) read.

Inputs are the rule groups (exactly as the rules file holds them) and the rendered
dashboards; outputs are plain objects plus `to_yaml()`. Nothing here touches files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rulegen import yamlout

JSON = dict[str, Any]

# kube-prometheus-stack selects PrometheusRules by `release: <helm release>` unless its
# ruleSelector is emptied; the grafana sidecar picks ConfigMaps by this label.
DEFAULT_RULE_LABELS: Mapping[str, str] = {"release": "kube-prometheus-stack"}
DASHBOARD_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"
DATASOURCE_UID = "prometheus"
GRAFANA_DASHBOARD_PATH = "/var/lib/grafana/dashboards"


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = "monitoring"
    rule_labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_RULE_LABELS))
    dashboard_labels: Mapping[str, str] = field(default_factory=dict)
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    scrape_interval: str = "30s"


# Kubernetes' label syntax (apimachinery validation): a value is empty or up to 63
# alphanumerics with `-_.` inside; a key is such a name, optionally prefixed by a DNS
# subdomain and `/`. The API server refuses anything else, so the whole apply fails.
_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$"
)
MAX_LABEL = 63


def check_label(key: str, value: str) -> None:
    """ValueError unless the API server accepts `key: value` as an object label."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise ValueError(f"label key {key!r}: the prefix must be a DNS subdomain")
    if not name or len(name) > MAX_LABEL or not _LABEL_VALUE.match(name):
        raise ValueError(
            f"label key {key!r} is not a Kubernetes label name "
            f"(at most {MAX_LABEL} of [A-Za-z0-9-_.], starting and ending alphanumeric)"
        )
    if len(value) > MAX_LABEL or not _LABEL_VALUE.match(value):
        raise ValueError(
            f"label {key!r}: {value!r} is not a Kubernetes label value "
            f"(at most {MAX_LABEL} of [A-Za-z0-9-_.], starting and ending alphanumeric)"
        )


def k8s_name(text: str) -> str:
    """A DNS-1123 name from a uid or spec name: lower case, `-` for anything else."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:253].rstrip("-") or "unnamed"


def configmap_name(uid: str) -> str:
    """The name of a dashboard's ConfigMap, which is also its file name."""
    return k8s_name(f"grafana-dashboard-{uid}")


def prometheus_rule(
    name: str, groups: Sequence[JSON] | yamlout.Rendered, opts: DeployOptions
) -> JSON:
    """The rules file's groups as a PrometheusRule (already written once: placed as is)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": k8s_name(name),
            "namespace": opts.namespace,
            "labels": {"app.kubernetes.io/managed-by": "idp-rulegen", **opts.rule_labels},
        },
        "spec": {"groups": groups if isinstance(groups, yamlout.Rendered) else list(groups)},
    }


# Client-side `kubectl apply` (the README's command) copies each object, as JSON, into
# its last-applied-configuration annotation, and an object's annotations may hold at most
# 256 KiB: a bigger PrometheusRule is refused. The rest of the budget is the object's
# metadata and what kubectl adds around it.
MAX_OBJECT_BYTES = 256 * 1024
MAX_GROUP_BYTES = MAX_OBJECT_BYTES - 16 * 1024


def applied_bytes(obj: Any) -> int:
    """Bytes of `obj` as kubectl stores it in the annotation: Go's json.Marshal, compact,
    with `<`, `>` and `&` written as \\u003c etc. (6 bytes each; PromQL is full of them)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode()) + 5 * (text.count("<") + text.count(">") + text.count("&"))


def group_bytes(group: yamlout.Rendered) -> int:
    """What one rule group adds to a PrometheusRule: the larger of its JSON (annotation)
    and its YAML placed under `spec.groups` (the file), which is indented by two."""
    placed = len(group.text.encode()) + 2 * group.text.count("\n") if group.text else 0
    return max(applied_bytes(group.data[0]) + 1, placed)


def split_rule_groups(
    items: Sequence[yamlout.Rendered], sizes: Sequence[int]
) -> list[yamlout.Rendered]:
    """Whole groups (`items`, each of `sizes` bytes), in order, packed into as few
    PrometheusRules as keep each under MAX_GROUP_BYTES; a group is never split
    (Prometheus evaluates it as one)."""
    chunks: list[list[yamlout.Rendered]] = [[]]
    used = 0
    for group, size in zip(items, sizes, strict=True):
        if chunks[-1] and used + size > MAX_GROUP_BYTES:
            chunks.append([])
            used = 0
        chunks[-1].append(group)
        used += size
    # No groups at all is still one (empty) PrometheusRule, as the rules file is one file.
    return [yamlout.Rendered.join(c) for c in chunks if c] or [yamlout.Rendered([])]


def prometheus_rule_name(spec: str, index: int) -> str:
    """The n-th PrometheusRule of a spec: `<spec>`, then `<spec>-2`, `<spec>-3`, ..."""
    return k8s_name(spec if index == 0 else f"{spec}-{index + 1}")


def dashboard_configmap(uid: str, folder: str, dashboard_json: str, opts: DeployOptions) -> JSON:
    key, value = DASHBOARD_LABEL
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(uid),
            "namespace": opts.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "idp-rulegen",
                key: value,
                **opts.dashboard_labels,
            },
            # Read by the sidecar when `folderAnnotation: grafana_folder` is set.
            "annotations": {FOLDER_ANNOTATION: folder},
        },
        "data": {f"{uid}.json": dashboard_json},
    }


def dashboard_provider(name: str = "idp-slo", folder: str = "IDP") -> JSON:
    """Grafana file provider for the bundle's flat dashboards/ folder; UI edits are refused.

    Dashboards lie side by side in dashboards/<uid>.json, so the folder is named here;
    in-cluster, the sidecar files each ConfigMap by its grafana_folder annotation instead.
    """
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": name,
                "orgId": 1,
                "folder": folder,
                "type": "file",
                "disableDeletion": False,
                "updateIntervalSeconds": 30,
                "allowUiUpdates": False,
                "options": {"path": GRAFANA_DASHBOARD_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def datasource_example(opts: DeployOptions) -> JSON:
    """The datasource every dashboard's `datasource` variable defaults to (uid `prometheus`)."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": opts.prometheus_url,
                "isDefault": True,
                "version": 1,
                "editable": False,
                # $__rate_interval is derived from timeInterval: keep it the scrape interval.
                "jsonData": {
                    "timeInterval": opts.scrape_interval,
                    "httpMethod": "POST",
                    "prometheusType": "Prometheus",
                },
            }
        ],
    }


def alertmanager_example(page_severity: str = "critical", ticket_severity: str = "warning") -> JSON:
    """Routing: page tier to the pager, ticket tier to Slack; a page silences its ticket."""
    return {
        "route": {
            "receiver": "slack",
            # slo_spec with slo: two specs may both have an SLO of the same name.
            "group_by": ["alertname", "slo_spec", "slo", "cluster"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": "pager", "matchers": [f'severity="{page_severity}"']},
                {"receiver": "slack", "matchers": [f'severity="{ticket_severity}"']},
            ],
        },
        # The same SLO burning fast (page) makes its slow-burn ticket redundant noise.
        "inhibit_rules": [
            {
                "source_matchers": [f'severity="{page_severity}"'],
                "target_matchers": [f'severity="{ticket_severity}"'],
                "equal": ["alertname", "slo_spec", "slo"],
            }
        ],
        "receivers": [
            {
                "name": "pager",
                "pagerduty_configs": [
                    {"routing_key_file": "/etc/alertmanager/secrets/pagerduty-routing-key"}
                ],
            },
            {
                "name": "slack",
                "slack_configs": [
                    {
                        "api_url_file": "/etc/alertmanager/secrets/slack-webhook-url",
                        "channel": "#platform-alerts",
                        "send_resolved": True,
                        "title": "{{ .CommonLabels.alertname }} {{ .CommonLabels.slo }}",
                        "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
                    }
                ],
            },
        ],
    }


# Split mode: which Prometheus a PrometheusRule is for. The global objects carry no
# outputs.rule_labels (a cluster's kube-prometheus-stack would select them by release);
# the ThanosRuler's or central Prometheus' ruleSelector matches this label instead.
LAYER_LABEL = "idp-slo/layer"
# What crosses the wire from each cluster: the base recordings, nothing raw.
SHIPPED_SERIES = "slo:sli_(error|total)_events:.*"
# Where each evaluator accepts remote_write (in-cluster Service names to adapt).
REMOTE_WRITE_URLS: Mapping[str, str] = {
    "prometheus": "http://prometheus-global.{ns}.svc:9090/api/v1/write",
    "thanos": "http://thanos-receive.{ns}.svc:19291/api/v1/receive",
    "mimir": "http://mimir-distributor.{ns}.svc:8080/api/v1/push",
}
MIMIR_TENANT_HEADER = "X-Scope-OrgID"


def remote_write_example(
    cluster_label: str, cluster: str, evaluator: str, tenant: str, opts: DeployOptions
) -> JSON:
    """A cluster Prometheus' prometheus.yml fragment: its external label, and remote_write
    of the base recordings only."""
    target: JSON = {"url": REMOTE_WRITE_URLS[evaluator].format(ns=opts.namespace)}
    if evaluator == "mimir":
        target["headers"] = {MIMIR_TENANT_HEADER: tenant}
    target["write_relabel_configs"] = [
        {"source_labels": ["__name__"], "regex": SHIPPED_SERIES, "action": "keep"}
    ]
    return {"global": {"external_labels": {cluster_label: cluster}}, "remote_write": [target]}


def mimir_namespace(namespace: str, groups: yamlout.Rendered) -> JSON:
    """The file `mimirtool rules load` takes: one namespace and its groups."""
    return {"namespace": namespace, "groups": groups}


def kustomization(resources: Sequence[str], namespace: str) -> JSON:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": sorted(resources),
    }


def to_yaml(obj: Any) -> str:
    """Deterministic YAML: insertion order kept (it is the reading order), wide lines."""
    return yamlout.dump(obj, "")


def to_yaml_documents(objs: Sequence[Any]) -> str:
    return "".join(f"---\n{to_yaml(o)}" for o in objs)
