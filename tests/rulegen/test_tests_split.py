"""The generated split-mode tests pass against the rendered rule files, and have power.

A spec in split mode renders a cluster and a global rule file, each with its own
generated promtool tests. They must pass as rendered; and each rule broken the way a
plausible bug would break it (errors and totals swapped, the all-clusters gate dropped,
the mean of the clusters' ratios instead of their summed events, a cluster forgotten by
SLOClusterMissing, a scope-cluster SLO summed over clusters; and the proofs single mode
has: the period as a mean of ratios over time, a division NaN at zero traffic, a page
tier too slow for an outage) must make them fail, naming the check that caught it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import cli, run_promtool, spec

HEAD = "apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {name: split, labels: {team: web}}\n"
SPLIT_SPEC = """\
topology:
  mode: split
  clusters: [us-east-1, us-west-1, eu-central-1]
slos:
  - name: requests
    objective: 99.9
    sli:
      ratio:
        errors: app_requests_total{code=~"5.."}
        total: app_requests_total
        group_by: [route]
  - name: latency
    objective: 95
    sli: {latency: {histogram: app_request_duration_seconds, threshold: 0.5}}
  - name: uptime
    scope: cluster
    objective: 99.5
    sli: {probe: {metric: 'probe_success{target="app"}'}}
  - name: checkout
    objective: 99
    clusters: [us-east-1, us-west-1]
    sli:
      raw:
        errors: sum(rate(checkout_errors_total[$window]))
        total: sum(rate(checkout_requests_total[$window]))
"""

Rules = dict[str, Any]
GLOBAL_ERRORS = "slo:sli_global_error_events:rate5m"
GLOBAL_TOTAL = "slo:sli_global_total_events:rate5m"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("split")
    path = spec(root, SPLIT_SPEC, head=HEAD)
    result = cli("render", str(path), "-o", str(root / "out"))
    assert result.exit_code == 0, result.output
    return root / "out" / "alerts"


def _test_files(tests: Path, which: str) -> list[Path]:
    """The cluster file's tests, or the global file's (two files: the longest test alone)."""
    return sorted(tests.glob(f"split.{which}*.test.yml"))


def _promtool(promtool: str, alerts: Path, which: str) -> str:
    """`promtool test rules` on the cluster or global test files; '' when they pass."""
    files = _test_files(alerts / "tests", which)
    assert files, which
    tested = run_promtool(promtool, "test", "rules", *map(str, files))
    out = tested.stdout + tested.stderr
    return "" if tested.returncode == 0 else out or "failed without output"


def test_generated_split_tests_pass(rendered: Path, promtool: str) -> None:
    assert _promtool(promtool, rendered, "cluster") == ""
    assert _promtool(promtool, rendered, "global") == ""


# -- breaking the rules ------------------------------------------------------------------


def _rule(groups: Rules, slo: str, record: str) -> dict[str, Any]:
    """The recording rule `record` of SLO `slo`."""
    return next(
        r
        for g in groups["groups"]
        for r in g["rules"]
        if r.get("record") == record and r.get("labels", {}).get("slo") == slo
    )


def _swap_base(groups: Rules) -> None:
    errors = _rule(groups, "requests", "slo:sli_error_events:rate5m")
    total = _rule(groups, "requests", "slo:sli_total_events:rate5m")
    errors["expr"], total["expr"] = total["expr"], errors["expr"]


def _no_gate(groups: Rules) -> None:
    for record in (GLOBAL_ERRORS, GLOBAL_TOTAL):
        rule = _rule(groups, "requests", record)
        rule["expr"] = rule["expr"].split(" and on()")[0]


def _mean_of_ratios(groups: Rules) -> None:
    """Each cluster's ratio weighs the same, whatever its traffic (the cross-cluster
    version of Sloth's mean of ratios)."""
    ident = 'slo="latency", slo_spec="split"'
    errors, total = (f"slo:sli_{kind}_events:rate5m{{{ident}}}" for kind in ("error", "total"))
    _rule(groups, "latency", GLOBAL_ERRORS)["expr"] = f"sum({errors} / {total})"
    _rule(groups, "latency", GLOBAL_TOTAL)["expr"] = f"count({total})"


def _wait_for_every_cluster(groups: Rules) -> None:
    """checkout is measured in two clusters: a gate waiting for all three never opens."""
    for record in (GLOBAL_ERRORS, GLOBAL_TOTAL):
        rule = _rule(groups, "checkout", record)
        rule["expr"] = rule["expr"].replace(">= 2", ">= 3")


def _forget_cluster(groups: Rules) -> None:
    rule = next(
        r for g in groups["groups"] for r in g["rules"] if r.get("alert") == "SLOClusterMissing"
    )
    rule["expr"] = rule["expr"].rsplit(" or ", 1)[0]


def _sum_over_clusters(groups: Rules) -> None:
    for record in (GLOBAL_ERRORS, GLOBAL_TOTAL):
        rule = _rule(groups, "uptime", record)
        rule["expr"] = rule["expr"].replace("sum by (cluster)", "sum")


def _period_mean_of_ratios(groups: Rules) -> None:
    """The period as the mean over time of the 5m ratios: every sample weighs the same,
    a quiet night's incident as much as the peak (Sloth's mean of ratios)."""
    ident = 'slo="requests", slo_spec="split"'
    rule = _rule(groups, "requests", "slo:sli_error:ratio_rate30d")
    rule["expr"] = f"avg_over_time(slo:sli_error:ratio_rate5m{{{ident}}}[30d])"


def _unguarded_division(groups: Rules) -> None:
    """Every window divides by its total unguarded: 0/0 is NaN when traffic stops."""
    for group in groups["groups"]:
        for rule in group["rules"]:
            if rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
                rule["expr"] = rule["expr"].replace(" > 0)", ")")


def _page_threshold_shifted(groups: Rules) -> None:
    """requests' page-fast tier at 144x the budget instead of 14.4x: an outage pages
    minutes late (the tier tests see it too; this asserts the outage test does)."""
    rule = next(
        r
        for g in groups["groups"]
        for r in g["rules"]
        if r.get("alert") == "ErrorBudgetBurn"
        and r["labels"]["slo"] == "requests"
        and r["labels"]["long_window"] == "1h"
    )
    rule["expr"] = rule["expr"].replace("(14.4 *", "(144 *")


BREAKS: list[tuple[str, str, Callable[[Rules], None], str]] = [
    ("cluster", "errors and totals swapped", _swap_base, 'slo="requests"'),
    ("global", "no all-clusters gate", _no_gate, 'slo:sli_error:ratio_rate5m{slo=\\"requests\\"'),
    ("global", "mean of the clusters' ratios", _mean_of_ratios, 'slo=\\"latency\\"'),
    ("global", "a cluster forgotten", _forget_cluster, "SLOClusterMissing"),
    (
        "global",
        "gate waits for clusters that do not measure it",
        _wait_for_every_cluster,
        "checkout",
    ),
    ("global", "scope cluster summed over clusters", _sum_over_clusters, "uptime"),
    (
        "global",
        "period as the mean of ratios over time",
        _period_mean_of_ratios,
        'expr: "slo:sli_error:ratio_rate30d{slo=\\"requests\\"',
    ),
    ("global", "division without > 0", _unguarded_division, " != slo:sli_error:ratio_rate5m"),
    (
        "global",
        "page tier threshold shifted",
        _page_threshold_shifted,
        'slo=\\"requests\\",slo_spec=\\"split\\",alertstate=\\"firing\\",long_window=\\"1h\\"',
    ),
]


@pytest.mark.parametrize(
    ("which", "break_", "want"),
    [pytest.param(w, b, want, id=name) for w, name, b, want in BREAKS],
)
def test_a_broken_rule_fails_the_generated_tests(
    rendered: Path,
    tmp_path: Path,
    promtool: str,
    which: str,
    break_: Callable[[Rules], None],
    want: str,
) -> None:
    alerts = tmp_path / "alerts"
    (alerts / "tests").mkdir(parents=True)
    rules_file = f"split.{which}.rules.yml"
    groups = yaml.safe_load((rendered / rules_file).read_text())
    break_(groups)
    (alerts / rules_file).write_text(yaml.safe_dump(groups, sort_keys=False))
    for test_file in _test_files(rendered / "tests", which):
        (alerts / "tests" / test_file.name).write_text(test_file.read_text())
    failed = _promtool(promtool, alerts, which)
    assert "FAILED" in failed and want in failed, failed[-3000:]


# Scrape intervals and periods that once broke single mode's tests (tests_gen), plus the
# extremes: the split tests' own times (the base window, the evaluation step) follow them.
INTERVALS = [(1, 1), (45, 30), (90, 7), (600, 30), (120, 90)]


def test_generated_split_tests_pass_for_other_scrape_intervals_and_windows(
    tmp_path: Path, promtool: str
) -> None:
    files = []
    for scrape, days in INTERVALS:
        root = tmp_path / f"s{scrape}-d{days}"
        root.mkdir()
        defaults = f"defaults: {{window: {days}d, scrape_interval: {scrape}s}}\n"
        path = spec(root, defaults + SPLIT_SPEC, head=HEAD)
        result = cli("render", str(path), "-o", str(root))
        assert result.exit_code == 0, result.output
        files += [
            str(f) for w in ("cluster", "global") for f in _test_files(root / "alerts" / "tests", w)
        ]
    tested = run_promtool(promtool, "test", "rules", *files)
    assert tested.returncode == 0, (tested.stdout + tested.stderr)[-4000:]
