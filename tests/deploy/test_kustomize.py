"""The deploy bundle: every overlay builds offline, validates, and runs the exporter safely."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from exporter import config

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.30.0"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def build(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to build deploy/"
    proc = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def test_the_guides_three_clusters_have_overlays() -> None:
    assert OVERLAYS == ["eu-central-1", "us-east-1", "us-west-1"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_every_object_validates(overlay: str) -> None:
    objects = build(overlay)
    kinds = {o["kind"] for o in objects}
    assert {
        "Deployment",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "RoleBinding",
        "ServiceMonitor",
        "NetworkPolicy",
        "ConfigMap",
        "PrometheusRule",
    } <= kinds
    dashboards = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) >= 6  # the guide's four plus the SLO overview and detail
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            assert obj["metadata"]["name"] and isinstance(obj["spec"], dict)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_exporter_runs_locked_down(overlay: str) -> None:
    (deployment,) = [o for o in build(overlay) if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rbac_is_read_only_and_grants_no_secrets(overlay: str) -> None:
    roles = [o for o in build(overlay) if o["kind"] in ("Role", "ClusterRole")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}
            assert "secrets" not in rule["resources"]
            assert set(rule["apiGroups"]) <= {"argoproj.io", "batch"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_config_is_a_valid_exporter_config(overlay: str, tmp_path: Path) -> None:
    (cm,) = [
        o
        for o in build(overlay)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("idp-exporter-config")
    ]
    doc = yaml.safe_load(cm["data"]["config.yaml"])
    # Secret files exist only in the cluster: point them at stand-ins to validate the rest.
    for source in doc["sources"]:
        if "password_file" in source:
            assert source["password_file"].startswith("/etc/idp-exporter/secrets/")
            stand_in = tmp_path / Path(source["password_file"]).name
            stand_in.write_text("secret\n")
            source["password_file"] = str(stand_in)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    loaded = config.load(path)
    clusters = [s.cluster for s in loaded.sources if s.type == "argo"]
    assert clusters == [overlay]
