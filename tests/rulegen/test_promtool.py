"""promtool accepts and passes every bundle: golden variants, the repo's own, and mutants fail."""

from __future__ import annotations

import shutil
from pathlib import Path

from rulegen import promtool as promtool_mod

from .conftest import GOLDEN, REPO
from .helpers import cli
from .helpers import run_promtool as run


def test_golden_rules_pass_promtool_check(promtool: str) -> None:
    files = sorted(str(p) for p in GOLDEN.glob("*/alerts/*.rules.yml"))
    assert len(files) >= 8
    result = run(promtool, "check", "rules", "--lint=all", "--lint-fatal", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_golden_generated_tests_pass_promtool(promtool: str) -> None:
    files = sorted(str(p) for p in GOLDEN.glob("*/alerts/tests/*.test.yml"))
    result = run(promtool, "test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


def test_repo_bundle_is_fresh() -> None:
    result = cli("render", str(REPO / "slo.yaml"), "--check")
    assert result.exit_code == 0, result.output


def test_repo_bundle_passes_idp_rulegen_check(promtool: str) -> None:
    result = cli("check", str(REPO))
    assert result.exit_code == 0, result.output
    suites = ("idp.cluster.test.yml", "idp.global.test.yml", "idp.global.long.test.yml")
    suites += ("threshold-alerts.test.yml",)
    for suite in (*suites, "capacity-alerts.test.yml"):
        assert suite in result.output


def test_generated_tests_catch_a_wrong_threshold(tmp_path: Path, promtool: str) -> None:
    """The generated tests are not vacuous: a rule with a shifted threshold fails them."""
    root = tmp_path / "ratio"
    shutil.copytree(GOLDEN / "ratio", root)
    rules = root / "alerts" / "ratio.rules.yml"
    text = rules.read_text()
    assert "(6 * 0.001)" in text
    rules.write_text(text.replace("(6 * 0.001)", "(7 * 0.001)"))
    tests = root / "alerts" / "tests" / "ratio.settled.test.yml"
    result = run(promtool, "test", "rules", str(tests))
    assert result.returncode == 1
    assert 'long_window="6h"' in result.stderr


def test_generated_tests_catch_an_unweighted_period_ratio(tmp_path: Path, promtool: str) -> None:
    """Sloth's mean-of-ratios period (sloth #332) fails the period test."""
    root = tmp_path / "ratio"
    shutil.copytree(GOLDEN / "ratio", root)
    rules = root / "alerts" / "ratio.rules.yml"
    sel = '{slo="deployment-success", slo_spec="ratio"}'
    hourly = "[29d23h59m59s999ms]"
    weighted = f"sum_over_time(slo:sli_error_events:rate5m_sum1h{sel}{hourly}) / (sum_over_time(slo:sli_total_events:rate5m_sum1h{sel}{hourly}) > 0)"
    text = rules.read_text()
    assert weighted in text
    rules.write_text(text.replace(weighted, f"avg_over_time(slo:sli_error:ratio_rate5m{sel}[30d])"))
    tests = root / "alerts" / "tests" / "ratio.settled.test.yml"
    result = run(promtool, "test", "rules", str(tests))
    assert result.returncode == 1
    assert "slo:sli_error:ratio_rate30d" in result.stderr


def test_check_fails_with_exit_1_on_a_broken_bundle(tmp_path: Path, promtool: str) -> None:
    root = tmp_path / "ratio"
    shutil.copytree(GOLDEN / "ratio", root)
    (root / "alerts" / "ratio.rules.yml").write_text(
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: rate(\n"
    )
    result = cli("check", str(root))
    assert result.exit_code == 1
    assert "could not parse expression" in result.stderr or "parse error" in result.stderr


def test_check_fails_where_the_threshold_rules_beside_the_tests_differ(
    tmp_path: Path, promtool: str
) -> None:
    """The hand-written tests load the threshold groups alone: `check` holds that copy to
    the rule file, so the tests keep proving the rules that are deployed."""
    root = tmp_path / "routing"
    shutil.copytree(GOLDEN / "routing", root)
    copy = root / "alerts" / "tests" / "routing.thresholds.rules.yml"
    assert cli("check", str(root)).exit_code == 0
    rules = root / "alerts" / "routing.rules.yml"
    text = rules.read_text()
    assert text.count("checkout_queue_depth > 1000") == 1
    rules.write_text(text.replace("checkout_queue_depth > 1000", "checkout_queue_depth > 2000"))
    result = cli("check", str(root))
    assert result.exit_code == 1
    assert f"error: {copy}: rule group alerts:routing is not the group of {rules}" in result.stderr
    rules.write_text(text)
    copy.write_text(copy.read_text() + "- name: mine\n  rules: []\n")
    result = cli("check", str(root))
    assert result.exit_code == 1
    assert f"error: {copy}: rule group mine is in no rule file" in result.stderr


def test_test_files_run_side_by_side_and_report_in_file_order(
    tmp_path: Path, promtool: str
) -> None:
    """One promtool per file, several at once: one failing file fails the whole, and the
    output is each file's, in the order given, whichever finished first."""
    body = "evaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series: []\n"
    files = [tmp_path / f"{name}.test.yml" for name in ("a", "b", "c")]
    for f in files:
        expr = "vector(2)" if f.name == "b.test.yml" else "vector(1)"
        f.write_text(
            body + f"  promql_expr_test:\n  - {{expr: '{expr}', eval_time: 0m, "
            "exp_samples: [{labels: '{}', value: 1}]}\n"
        )
    result = promtool_mod.test_rules(files)
    assert not result.ok
    starts = [result.output.index(f"Unit Testing:  {f}\n") for f in files]
    assert starts == sorted(starts)
    assert result.output.count("SUCCESS") == 2
    assert "FAILED" in result.output[starts[1] : starts[2]]
