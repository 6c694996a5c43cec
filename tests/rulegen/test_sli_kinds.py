"""The SLI kind registry: every kind the schema accepts has a builder, and a kind's own
properties (time-based or not, how `explain` names it) reach the renderers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulegen import explain, rules, sli, spec, tests_gen
from rulegen.model import load

from .helpers import spec as write_spec

KINDS = {
    "ratio": ("ratio: {errors: app_errors_total, total: app_requests_total}", False, "ratio"),
    "latency": (
        "latency: {histogram: app_duration_seconds, threshold: 0.25}",
        False,
        "latency <= 0.25s",
    ),
    "probe": ("probe: {metric: app_probe_success}", True, "probe (time-based)"),
    "raw": (
        "raw: {errors: 'sum(rate(e[$window]))', total: 'sum(rate(t[$window]))'}",
        False,
        "raw",
    ),
}


def test_every_kind_the_schema_accepts_has_a_builder() -> None:
    assert set(sli.KINDS) == set(spec.SLI.model_fields) == set(KINDS)


@pytest.mark.parametrize("key", sorted(KINDS))
def test_a_kind_names_itself_and_says_whether_it_counts_time(tmp_path: Path, key: str) -> None:
    body, time_based, name = KINDS[key]
    path = write_spec(tmp_path, f"slos:\n  - name: s\n    objective: 99.9\n    sli: {{{body}}}\n")
    slo = load(str(path)).slos[0]
    assert slo.sli.time_based is time_based
    assert f"SLO s ({name})," in explain.explain_slo(slo)[0]
    what = "of the time" if time_based else "of events"
    assert f" {what} failed " in rules.burn_description(slo, slo.tiers[0], "5%", "")


def test_generated_tests_check_annotations_only_where_an_slo_reads_its_own_metrics(
    tmp_path: Path,
) -> None:
    body = """\
    slos:
      - name: ratio
        objective: 99.9
        sli: {ratio: {errors: app_errors_total, total: app_requests_total}}
      - name: raw
        objective: 99.9
        sli: {raw: {errors: 'sum(rate(app_errors_total[$window]))', total: 'sum(rate(t[$window]))'}}
      - name: latency
        objective: 99.9
        sli: {latency: {histogram: app_duration_seconds, threshold: 0.25}}
    """
    _, tests = tests_gen.settled_suite(load(str(write_spec(tmp_path, body))))
    firing = [(comment, test) for comment, test in tests if " fires at an error ratio" in comment]
    checked = {comment.split(":")[0] for comment, test in firing if "alert_rule_test" in test}
    # raw reads app_errors_total through its own PromQL, so it shares a metric with ratio.
    assert checked == {"latency"}
    assert {comment.split(":")[0] for comment, _ in firing} == {"ratio", "raw", "latency"}
