"""The bundle assembler: one table of (path, renderer) builds every file, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rulegen import bundle, model

from .conftest import REPO

DEPLOY = "deploy/generated/"


def _render(spec: Path = REPO / "slo.yaml") -> dict[str, str]:
    return bundle.render(model.load(str(spec)))


def test_kustomization_lists_every_kubernetes_object_and_nothing_else() -> None:
    """Each kustomization (the clusters' one, and global/ for the global layer: the repo's
    spec is split) lists exactly the Kubernetes objects beside it."""
    files = _render()
    for folder in (DEPLOY, f"{DEPLOY}global/"):
        kustomization = yaml.safe_load(files[f"{folder}kustomization.yaml"])
        objects = {
            path.removeprefix(folder)
            for path, text in files.items()
            if path.startswith(folder)
            and not path.removeprefix(folder).startswith("global/")
            and {"apiVersion", "kind", "metadata"} <= set(yaml.safe_load(text))
        }
        assert kustomization["resources"] == sorted(objects), folder
        assert "alertmanager/alertmanager.yml" not in objects


def test_every_file_comes_from_one_row() -> None:
    files = _render()
    parts = bundle.parts_of(model.load(str(REPO / "slo.yaml")))
    paths = [p for row in bundle.BUNDLE for p in row.paths(parts)]
    assert sorted(paths) == sorted(files)  # no row overwrites another's file


def test_a_new_output_is_one_renderer_and_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Say Mimir ruler namespace files: a renderer, a row; a Kubernetes row is also deployed."""

    def ruler(p: bundle.Parts) -> str:
        return f"namespace: {p.deploy.namespace}\n"

    def ruler_object(p: bundle.Parts) -> str:
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {p.model.name}-ruler}}\n"

    rows = (
        bundle.One("mimir/{spec}.yaml", ruler),
        bundle.One("deploy/generated/{spec}-ruler.yaml", ruler_object, kubernetes=True),
    )
    monkeypatch.setattr(bundle, "BUNDLE", (*bundle.BUNDLE, *rows))
    files = _render()
    assert files["mimir/idp.yaml"] == "namespace: monitoring\n"
    resources = yaml.safe_load(files[f"{DEPLOY}kustomization.yaml"])["resources"]
    assert "idp-ruler.yaml" in resources
