"""PrometheusRules small enough for `kubectl apply`: split by whole rule groups.

The attack: one PrometheusRule of ~6.5 KB per SLO was 262,604 B at 40 SLOs (over the
256 KiB last-applied-configuration annotation of client-side apply) and 1.63 MB at 250
(over etcd's 1.5 MiB request limit).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from rulegen import k8s

from .helpers import HEAD, cli, spec

LIMIT = 256 * 1024


def _slos(n: int) -> str:
    slo = (
        "  - name: slo-{i:03d}\n"
        "    service: service-{i:03d}\n"
        "    description: Requests of service {i} that succeed, per environment and route.\n"
        "    objective: 99.5\n"
        "    sli:\n"
        "      ratio:\n"
        '        errors: http_requests_total{{service="service-{i:03d}",code=~"5.."}}\n'
        '        total: http_requests_total{{service="service-{i:03d}"}}\n'
        "        group_by: [environment, route]\n"
    )
    return "slos:\n" + "".join(slo.format(i=i) for i in range(n))


def _render(tmp_path: Path, body: str) -> Path:
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "out"
    result = cli("render", str(spec(tmp_path, body)), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def _objects(out: Path) -> list[tuple[str, bytes]]:
    deploy = out / "deploy" / "generated"
    names = sorted(p.name for p in deploy.glob("prometheusrule*.yaml"))
    return [(n, (deploy / n).read_bytes()) for n in names]


@pytest.mark.parametrize(("slos", "objects"), [(40, 2), (250, 9)])
def test_each_prometheus_rule_fits_kubectl_apply(tmp_path: Path, slos: int, objects: int) -> None:
    out = _render(tmp_path, _slos(slos))
    found = _objects(out)
    assert len(found) == objects
    expected = ["prometheusrule.yaml"] + [f"prometheusrule-{n}.yaml" for n in range(2, objects + 1)]
    assert sorted(n for n, _ in found) == sorted(expected)
    rules = yaml.load((out / "alerts" / "t.rules.yml").read_text(), Loader=yaml.CSafeLoader)[
        "groups"
    ]
    placed = []
    for file_name, data in sorted(found, key=lambda f: expected.index(f[0])):
        obj = yaml.load(data, Loader=yaml.CSafeLoader)
        assert len(data) < LIMIT, (file_name, len(data))
        assert k8s.applied_bytes(obj) < LIMIT, (file_name, k8s.applied_bytes(obj))
        index = expected.index(file_name)
        assert obj["metadata"]["name"] == ("t" if index == 0 else f"t-{index + 1}")
        placed += obj["spec"]["groups"]
    # Whole groups, each exactly once, in the rules file's order.
    assert placed == rules
    kustomization = yaml.load(
        (out / "deploy" / "generated" / "kustomization.yaml").read_text(), Loader=yaml.CSafeLoader
    )
    assert set(expected) <= set(kustomization["resources"])


def test_the_split_is_deterministic(tmp_path: Path) -> None:
    first = _objects(_render(tmp_path / "a", _slos(40)))
    second = _objects(_render(tmp_path / "b", _slos(40)))
    assert first == second


def test_kustomize_builds_every_prometheus_rule(tmp_path: Path) -> None:
    out = _render(tmp_path, _slos(40))
    run = subprocess.run(
        ["kubectl", "kustomize", str(out / "deploy" / "generated")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rules = [d for d in yaml.safe_load_all(run.stdout) if d["kind"] == "PrometheusRule"]
    assert sorted(r["metadata"]["name"] for r in rules) == ["t", "t-2"]


def test_a_small_spec_keeps_one_prometheus_rule(tmp_path: Path) -> None:
    out = _render(tmp_path, _slos(3))
    assert [n for n, _ in _objects(out)] == ["prometheusrule.yaml"]


def test_a_group_too_big_for_one_object_is_a_located_error(tmp_path: Path) -> None:
    """20 threshold alerts share a group; 14 KB each make it too big to apply, whole."""
    value = "x" * 14_000
    alerts = "".join(
        f"  - {{name: Big{chr(65 + i)}x, expr: 'up{{job=\"{value}\"}} == 0', "
        "severity: warning, summary: Down.}\n"
        for i in range(20)
    )
    path = spec(tmp_path, "alerts:\n" + alerts)
    result = cli("render", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    line = HEAD.count("\n") + 2  # the alerts' list, under `alerts:`
    assert f"{path}:{line}:3: alerts: rule group alerts:t is " in result.stderr, result.stderr
    assert "under 256 KiB" in result.stderr
    assert not (tmp_path / "out").exists()
