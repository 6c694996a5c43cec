"""The PromQL shapes importers recognise, and the multi-document loader they read with."""

from __future__ import annotations

import pytest

from common import yamlsafe
from common.issues import LocatedError
from rulegen.importers import queries
from rulegen.promql import selector

W = queries.WINDOW


@pytest.mark.parametrize(
    ("expr", "metric", "group_by"),
    [
        (f'sum(rate(http_requests_total{{code=~"5.."}}[{W}]))', "http_requests_total", ()),
        (f"sum by (env) (rate(x_total[{W}]))", "x_total", ("env",)),
        (f"(sum(increase(x_total[{W}])))", "x_total", ()),
        (f"sum(rate(x_total[{W}])) by (env, zone)", "x_total", ("env", "zone")),
    ],
)
def test_counter_sums_become_ratio_selectors(
    expr: str, metric: str, group_by: tuple[str, ...]
) -> None:
    found = queries.counter_sum(expr)
    assert found is not None
    assert (found.selector.metric, found.group_by) == (metric, group_by)


@pytest.mark.parametrize(
    "expr",
    [
        f"sum(rate(x_total[{W}])) / 2",
        f"sum without (env) (rate(x_total[{W}]))",
        f"sum(rate(x_total[{W}] offset 1h))",
        f"max(rate(x_total[{W}]))",
        f"sum(rate(x_total[{W}])) - sum(rate(y_total[{W}]))",
        f"sum(irate(x_total[{W}]))",
    ],
)
def test_other_shapes_stay_raw(expr: str) -> None:
    assert queries.counter_sum(expr) is None


@pytest.mark.parametrize(
    ("expr", "rest"),
    [
        (f"sum(rate(e_total[{W}])) or on() vector(0)", f"sum(rate(e_total[{W}]))"),
        (f"(sum(rate(e_total[{W}])) or on () vector(0))", f"sum(rate(e_total[{W}]))"),
        (f"sum(rate(e_total[{W}])) or vector(0.0)", f"sum(rate(e_total[{W}]))"),
    ],
)
def test_vector_zero_endings_are_stripped(expr: str, rest: str) -> None:
    assert queries.strip_vector_zero(expr) == rest


def test_other_or_endings_are_kept() -> None:
    assert queries.strip_vector_zero(f"sum(rate(e_total[{W}])) or on() vector(1)") is None
    assert queries.strip_vector_zero(f"sum(rate(e_total[{W}]))") is None


@pytest.mark.parametrize(
    ("good", "total", "bad"),
    [
        ('r_total{code!~"5.."}', "r_total", 'r_total{code=~"5.."}'),
        ('r_total{job="a",ok="true"}', 'r_total{job="a"}', 'r_total{job="a",ok!="true"}'),
    ],
)
def test_good_with_one_more_matcher_negates_to_bad(good: str, total: str, bad: str) -> None:
    # Matchers read a missing label as "": every total series matches exactly one of a
    # matcher and its negation, so bad = total - good holds series by series.
    found = queries.negation(selector(good), selector(total))
    assert found is not None and found.render() == bad


@pytest.mark.parametrize(
    ("good", "total"),
    [
        ("ok_total", "all_total"),  # two metrics
        ('r_total{a="1",b="2"}', "r_total"),  # two extra matchers: no single complement
        ('r_total{code="200",code!="500"}', 'r_total{code!="500"}'),  # same label twice
    ],
)
def test_no_single_complement_stays_total_minus_good(good: str, total: str) -> None:
    assert queries.negation(selector(good), selector(total)) is None


def test_bucket_queries_name_their_histogram() -> None:
    q = 'histogram_quantile(0.9, sum by (le) (rate(h_seconds_bucket{job="a"}[5m])))'
    found = queries.bucket_histogram(q)
    assert found is not None and found.render() == 'h_seconds{job="a"}'
    assert queries.bucket_histogram('h_seconds_bucket{le="0.5"}') is None
    assert queries.bucket_histogram("h_seconds_count") is None


def test_multi_document_positions_are_those_of_the_file() -> None:
    docs = yamlsafe.loads_all("a: 1\n---\n---\nb:\n  - x\n  - y\n", "f.yaml", noun="spec")
    assert [d.data for d in docs] == [{"a": 1}, {"b": ["x", "y"]}]  # empty document skipped
    assert docs[1].position(("b", 1)) == (6, 5)


def test_multi_document_keeps_the_safety_rules() -> None:
    with pytest.raises(LocatedError) as dup:
        yamlsafe.loads_all("a: 1\n---\nb: 1\nb: 2\n", "f.yaml", noun="spec")
    assert dup.value.lines() == ["f.yaml:4:1: b: duplicate key 'b' (first at line 3)"]
    with pytest.raises(LocatedError, match="anchors are not allowed"):
        yamlsafe.loads_all("a: 1\n---\nb: &x 1\nc: *x\n", "f.yaml", noun="spec")
    with pytest.raises(LocatedError, match="spec is empty"):
        yamlsafe.loads_all("---\n---\n", "f.yaml", noun="spec")


def test_a_spec_is_still_one_document() -> None:
    with pytest.raises(LocatedError, match="expected a single document"):
        yamlsafe.loads("a: 1\n---\nb: 2\n", "f.yaml", noun="spec")
