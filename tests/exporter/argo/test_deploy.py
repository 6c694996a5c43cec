"""The shipped example config and RBAC for the Argo source."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from exporter.config import ArgoSourceConfig, parse
from exporter.sources.argo import ArgoSource

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def test_three_cluster_example_is_a_valid_config(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    text = (DEPLOY / "examples" / "argo-three-clusters.yaml").read_text()
    cfg = parse(text.replace("/etc/idp-exporter/secrets/kubeconfig", str(kubeconfig)))
    argo = [s for s in cfg.sources if isinstance(s, ArgoSourceConfig)]
    assert [s.cluster for s in argo] == ["us-east-1", "us-west-1", "eu-central-1"]
    assert [s.context for s in argo] == ["us-east-1", "us-west-1", "eu-central-1"]
    for source in argo:
        ArgoSource(source, process_start=0.0)


def test_rbac_is_read_only_on_exactly_what_the_source_watches() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "base" / "rbac.yaml").read_text()))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)
    (role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    grants = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert grants == {
        (g, r, v)
        for g, r in [
            ("argoproj.io", "workflows"),
            ("argoproj.io", "applications"),
            ("batch", "cronjobs"),
        ]
        for v in ("get", "list", "watch")
    }
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == {"argo", "argocd", "backstage"}
    assert all(b["roleRef"]["name"] == role["metadata"]["name"] for b in bindings)


def test_base_runs_two_replicas_on_different_nodes_never_both_down() -> None:
    # Each replica counts every deployment; the rules deduplicate them, and a restart
    # of one loses nothing while the other runs.
    (deployment,) = yaml.safe_load_all((DEPLOY / "base" / "deployment.yaml").read_text())
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pod_labels = spec["template"]["metadata"]["labels"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    (pdb,) = yaml.safe_load_all((DEPLOY / "base" / "poddisruptionbudget.yaml").read_text())
    kubernetes_validate.validate(pdb, "1.30.0", strict=True)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    kustomization = yaml.safe_load((DEPLOY / "base" / "kustomization.yaml").read_text())
    assert "poddisruptionbudget.yaml" in kustomization["resources"]
