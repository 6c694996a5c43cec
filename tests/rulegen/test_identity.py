"""SLO identity across specs: two specs in one Prometheus never read each other's series.

SLO names are unique within one spec only. Both specs below define
`requests-availability`; before the slo_spec label, spec B's period ratio selected both
specs' series (`slo:error_budget_remaining:ratio` failed with "same labelset after
applying rule labels") and B's burn alerts fired on A's errors. Two files generated from
specs with the same metadata.name cannot be told apart, so `check` refuses them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .helpers import cli, run_promtool, spec

SLO = """\
slos:
  - name: requests-availability
    service: {service}
    objective: 99.9
    sli:
      ratio:
        errors: http_requests_total{{service="{service}",code=~"5.."}}
        total: http_requests_total{{service="{service}"}}
"""


def _head(name: str) -> str:
    return f"apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {{name: {name}}}\n"


def _rules(tmp_path: Path, spec_name: str, service: str) -> Path:
    """The rule file rendered from a spec `spec_name` measuring `service`'s requests."""
    work = tmp_path / f"{spec_name}-{service}"
    work.mkdir()
    path = spec(work, SLO.format(service=service), head=_head(spec_name))
    result = cli("render", str(path), "-o", str(work / "out"))
    assert result.exit_code == 0, result.output
    return work / "out" / "alerts" / f"{spec_name}.rules.yml"


def _bundle(tmp_path: Path, rule_files: dict[str, Path]) -> Path:
    """A directory holding only the given rule files in alerts/ (no tests, no dashboards)."""
    root = tmp_path / "bundle"
    (root / "alerts").mkdir(parents=True)
    for name, source in rule_files.items():
        shutil.copy(source, root / "alerts" / name)
    return root


def test_same_slo_name_in_two_specs_never_cross_fires(tmp_path: Path, promtool: str) -> None:
    a, b = _rules(tmp_path, "team-a", "a"), _rules(tmp_path, "team-b", "b")
    shutil.copy(a, tmp_path / "a.rules.yml")
    shutil.copy(b, tmp_path / "b.rules.yml")
    # Half of A's requests fail for 3 hours; B serves the same traffic without an error.
    values = "0+60x180"
    test = {
        "rule_files": ["a.rules.yml", "b.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'http_requests_total{service="a",code="200"}', "values": values},
                    {"series": 'http_requests_total{service="a",code="500"}', "values": values},
                    {"series": 'http_requests_total{service="b",code="200"}', "values": values},
                ],
                "promql_expr_test": [
                    {"expr": 'ALERTS{slo_spec="team-b"}', "eval_time": "3h", "exp_samples": []},
                    {
                        "expr": 'slo:error_budget_remaining:ratio{slo_spec="team-b"}',
                        "eval_time": "3h",
                        "exp_samples": [
                            {
                                "labels": 'slo:error_budget_remaining:ratio{slo="requests-'
                                'availability",slo_spec="team-b",service="b"}',
                                "value": 1,
                            }
                        ],
                    },
                    # A's own SLO still sees its errors: budget overspent, both pages firing.
                    {
                        "expr": 'slo:error_budget_remaining:ratio{slo_spec="team-a"} < bool 0',
                        "eval_time": "3h",
                        "exp_samples": [
                            {
                                "labels": '{slo="requests-availability",slo_spec="team-a",'
                                'service="a"}',
                                "value": 1,
                            }
                        ],
                    },
                    {
                        "expr": 'count(ALERTS{slo_spec="team-a",alertstate="firing",'
                        'severity="critical"})',
                        "eval_time": "3h",
                        "exp_samples": [{"labels": "{}", "value": 2}],
                    },
                ],
            }
        ],
    }
    (tmp_path / "collision.test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run_promtool(promtool, "test", "rules", str(tmp_path / "collision.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "same labelset" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("specs", "exit_code"),
    [
        (("shared", "shared"), 1),  # same metadata.name: the files' slo_spec labels are equal
        (("team-a", "team-b"), 0),  # same SLO name, different specs: no collision
    ],
)
def test_check_refuses_rule_files_of_one_spec_name(
    tmp_path: Path, promtool: str, specs: tuple[str, str], exit_code: int
) -> None:
    files = {
        f"{svc}.rules.yml": _rules(tmp_path, name, svc)
        for name, svc in zip(specs, "ab", strict=True)
    }
    root = _bundle(tmp_path, files)
    result = cli("check", str(root))
    assert result.exit_code == exit_code, result.output
    errors = [line for line in result.stderr.splitlines() if "metadata.name" in line]
    if exit_code == 0:
        assert errors == []
        return
    assert len(errors) == 1 and 'metadata.name "shared"' in errors[0], result.stderr
    assert str(root / "alerts" / "a.rules.yml") in errors[0]
    assert str(root / "alerts" / "b.rules.yml") in errors[0]
