"""The CLI contract: verbs, exit codes 0/1/2, --check diffs, -o, and the installed entry point."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import GOLDEN, REPO
from .helpers import RATIO_SLO, cli, spec


def test_validate_ok(tmp_path: Path) -> None:
    result = cli("validate", str(spec(tmp_path, RATIO_SLO)))
    assert result.exit_code == 0
    assert "valid (1 SLOs, 0 alerts, 0 dashboards)" in result.output


def test_render_writes_next_to_the_spec_by_default(tmp_path: Path) -> None:
    path = spec(tmp_path, RATIO_SLO)
    assert cli("render", str(path)).exit_code == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [  # the bundle (docs/cli.md), and the writer's list of it
        ".idp-rulegen-manifest",
        "alerts/t.rules.yml",
        "alerts/tests/t.settled.test.yml",
        "alerts/tests/t.test.yml",
        "dashboards/provisioning/dashboards.yml",
        "dashboards/provisioning/datasources.yml",
        "dashboards/slo-detail.json",
        "dashboards/slo-overview.json",
        "deploy/generated/alertmanager/alertmanager.yml",
        "deploy/generated/grafana-dashboard-slo-detail.yaml",
        "deploy/generated/grafana-dashboard-slo-overview.yaml",
        "deploy/generated/kustomization.yaml",
        "deploy/generated/prometheusrule.yaml",
        "spec.yaml",
    ]


def test_render_output_dir_and_check(tmp_path: Path) -> None:
    path = spec(tmp_path, RATIO_SLO)
    out = tmp_path / "out"
    stale = cli("render", str(path), "-o", str(out), "--check")
    assert stale.exit_code == 1
    assert stale.stdout.startswith("--- /dev/null\n+++ b/alerts/t.rules.yml\n")
    assert not out.exists(), "--check writes nothing"
    assert cli("render", str(path), "-o", str(out)).exit_code == 0
    fresh = cli("render", str(path), "-o", str(out), "--check")
    assert fresh.exit_code == 0
    assert fresh.stdout == ""


def test_check_diff_shows_what_changed(tmp_path: Path) -> None:
    path = spec(tmp_path, RATIO_SLO)
    cli("render", str(path))
    spec(tmp_path, RATIO_SLO.replace("99.9", "99.5"))
    result = cli("render", str(path), "--check")
    assert result.exit_code == 1
    assert "-    expr: vector(0.999)\n+    expr: vector(0.995)\n" in result.stdout


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    path = spec(tmp_path, RATIO_SLO)
    cli("render", str(path))
    rules = tmp_path / "alerts" / "t.rules.yml"
    before = rules.stat().st_mtime_ns
    result = cli("render", str(path))
    assert "already up to date" in result.stderr
    assert rules.stat().st_mtime_ns == before


def test_check_missing_dir_and_missing_rules_exit_2(tmp_path: Path) -> None:
    assert cli("check", str(tmp_path / "nope")).exit_code == 2
    result = cli("check", str(tmp_path))
    assert result.exit_code == 2
    assert "no rule files" in result.stderr


def test_check_runs_hand_written_tests_too(tmp_path: Path, promtool: str) -> None:
    root = tmp_path / "b"
    shutil.copytree(GOLDEN / "ratio", root)
    (root / "alerts" / "tests" / "extra.test.yml").write_text(
        "rule_files: [../ratio.rules.yml]\nevaluation_interval: 1m\ntests:\n"
        "- interval: 1m\n  input_series: []\n  alert_rule_test:\n"
        "  - {eval_time: 1m, alertname: ErrorBudgetBurn, exp_alerts: [{exp_labels: {slo: nope}}]}\n"
    )
    result = cli("check", str(root))
    assert result.exit_code == 1
    assert "extra.test.yml" in result.stderr


def test_unknown_flag_is_a_usage_error() -> None:
    assert cli("render", "--nope").exit_code == 2


def test_installed_entry_point_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("idp-rulegen")
    proc = subprocess.run(
        [str(exe), "validate", str(REPO / "slo.yaml")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    bad = spec(tmp_path, RATIO_SLO.replace("99.9", "90"))
    proc = subprocess.run(
        [str(exe), "render", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "can never fire" in proc.stderr
    assert not (tmp_path / "alerts").exists()
