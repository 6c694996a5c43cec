"""The generated promtool tests pass for every spec that validates.

Property: for any scrape interval and period the spec accepts, the rendered bundle's own
tests pass under `promtool test rules` (all examples in one promtool call: it runs the
files one after another and names each that fails).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from common.durations import DAY
from rulegen import bundle, model, writer
from rulegen.errors import SpecError

from .helpers import cli, run_promtool, spec

SLOS = [
    {
        "name": "requests",
        "objective": 99.9,
        "sli": {
            "ratio": {"errors": 'app_requests_total{code=~"5.."}', "total": "app_requests_total"}
        },
    },
    {
        "name": "latency",
        "objective": 95,
        "sli": {"latency": {"histogram": "app_request_duration_seconds", "threshold": 0.5}},
    },
    {
        "name": "uptime",
        "objective": 99.5,
        "sli": {"probe": {"metric": 'probe_success{target="app"}'}},
    },
]


def _spec(scrape: int, days: int) -> dict[str, object]:
    return {
        "apiVersion": "idp-slo/v1",
        "kind": "SLOSpec",
        "metadata": {"name": "prop"},
        "defaults": {"window": f"{days}d", "scrape_interval": f"{scrape}s"},
        "slos": SLOS,
    }


def test_generated_tests_pass_for_any_scrape_interval_and_window(
    tmp_path: Path, promtool: str
) -> None:
    roots: list[tuple[Path, int, int]] = []
    cases = itertools.count()

    # Each example costs a promtool run of a few seconds: a dozen, plus the intervals and
    # windows that once failed (the period read between two evaluation steps; a 10m step
    # hid the slow groups' recordings past the 5m lookback).
    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scrape=st.integers(1, 600), days=st.integers(1, 90))
    @example(scrape=45, days=30)
    @example(scrape=90, days=30)
    @example(scrape=600, days=30)
    @example(scrape=120, days=1)
    @example(scrape=120, days=90)
    def render(scrape: int, days: int) -> None:
        root = tmp_path / f"case{next(cases)}"
        root.mkdir()
        path = root / "slo.yaml"
        path.write_text(yaml.safe_dump(_spec(scrape, days), sort_keys=False))
        # The property is about specs that validate; one whose clamped windows give two
        # tiers one alert series is refused (test_model's own test), so it is not drawn.
        try:
            loaded = model.load(str(path))
        except SpecError:
            assume(False)
            raise
        writer.write(root, bundle.render(loaded))
        roots.append((root, scrape, days))

    render()
    assert len(roots) >= 12
    names = ("prop.test.yml", "prop.settled.test.yml")
    files = [str(r / "alerts" / "tests" / name) for r, _, _ in roots for name in names]
    tested = run_promtool(promtool, "test", "rules", *files)
    out = tested.stdout + tested.stderr
    failing = [
        f"scrape {s}s, window {d}d ({d * DAY}s): {name}"
        for r, s, d in roots
        for name in names
        if f"Unit Testing:  {r}/alerts/tests/{name}\n  FAILED" in out
    ]
    assert tested.returncode == 0, f"{failing}\n{out[-4000:]}"


# Raw SLIs cannot be fed their inputs (the PromQL is the user's), so the generated tests
# feed the recordings their alerts and period read; an expression that answers with no
# series at all would record those same series itself ("duplicate sample for timestamp").
RATIO = "sum(rate(checkout_errors_total[$window])) / sum(rate(checkout_requests_total[$window]))"
RAW_SLO = """\
slos:
  - name: checkout
    objective: 99.9
    sli:
      raw:
        errors: {errors}
        total: sum(rate(checkout_requests_total[$window]))
  - name: ratio-from-elsewhere
    objective: 99
    sli:
      raw:
        error_ratio: {ratio}
"""


@pytest.mark.parametrize(
    ("field", "line", "errors", "ratio"),
    [
        (
            "errors",
            9,
            "sum(rate(checkout_errors_total[$window])) or on() vector(0)",
            RATIO,
        ),
        ("errors", 9, "sum(rate(checkout_errors_total[$window])) or absent(up)", RATIO),
        (
            "error_ratio",
            15,
            "sum(rate(checkout_errors_total[$window]))",
            f"{RATIO} or vector(1)",
        ),
    ],
)
def test_raw_sli_answering_without_series_is_refused_where_it_is_written(
    tmp_path: Path, field: str, line: int, errors: str, ratio: str
) -> None:
    path = spec(tmp_path, RAW_SLO.format(errors=errors, ratio=ratio))
    result = cli("render", str(path))
    assert result.exit_code == 2
    index = 0 if field == "errors" else 1
    assert f"spec.yaml:{line}:" in result.stderr
    assert f": slos[{index}].sli.raw.{field}: returns a sample even when no series" in result.stderr
    assert not (tmp_path / "alerts").exists(), "nothing written"


def test_raw_sli_generated_tests_pass_through_check(tmp_path: Path) -> None:
    errors, ratio = "sum(rate(checkout_errors_total[$window]))", RATIO
    path = spec(tmp_path, RAW_SLO.format(errors=errors, ratio=ratio))
    assert cli("render", str(path)).exit_code == 0
    checked = cli("check", str(tmp_path))
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
