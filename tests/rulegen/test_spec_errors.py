"""Bad specs: one located error each (FILE:LINE:COL: path: message), exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rulegen.spec import MAX_BYTES

from .helpers import HEAD, RATIO_SLO, cli, spec

CASES = [
    pytest.param(
        "slos: [\n  - name: a\n    objective: 99\n",
        2,
        3,
        "$",
        "malformed YAML",
        id="malformed-yaml",
    ),
    pytest.param(
        RATIO_SLO + "    bogus: 1\n", 8, 5, "slos[0].bogus", "unknown key 'bogus'", id="unknown-key"
    ),
    pytest.param(
        RATIO_SLO.replace(
            "total: app_requests_total", "total: app_requests_total\n        grup_by: [x]"
        ),
        8,
        9,
        "slos[0].sli.ratio.grup_by",
        "unknown key 'grup_by'",
        id="unknown-nested-key",
    ),
    pytest.param(
        RATIO_SLO.replace("99.9", '"99.9"'),
        3,
        16,
        "slos[0].objective",
        "valid number",
        id="wrong-type",
    ),
    pytest.param(
        RATIO_SLO.replace("99.9", "100"),
        3,
        16,
        "slos[0].objective",
        "less than 100",
        id="objective-range",
    ),
    pytest.param(
        RATIO_SLO + RATIO_SLO.removeprefix("slos:\n"),
        8,
        11,
        "slos[1].name",
        "already defined at slos[0]",
        id="duplicate-slo-name",
    ),
    pytest.param(
        RATIO_SLO.replace("name: ok\n", "name: ok\n    name: again\n"),
        3,
        5,
        "slos[0].name",
        "duplicate key 'name'",
        id="duplicate-key",
    ),
    pytest.param(
        RATIO_SLO.replace("app_errors_total", "rate(app_errors_total[5m]"),
        6,
        17,
        "slos[0].sli.ratio.errors",
        "invalid PromQL",
        id="unparsable-promql",
    ),
    pytest.param(
        RATIO_SLO.replace("app_errors_total", "rate(app_errors_total[5m])"),
        6,
        17,
        "slos[0].sli.ratio.errors",
        "bare vector selector",
        id="not-a-selector",
    ),
    pytest.param(
        RATIO_SLO.replace("99.9", "90"),
        3,
        16,
        "slos[0].objective",
        "tier 'page-fast' of SLO 'ok' can never fire: factor 14.4 x error budget 0.1 = 1.44 >= 1",
        id="impossible-tier",
    ),
    pytest.param(
        "slos:\n  - name: a\n    objective: 99\n    sli:\n      raw: {errors: 'sum(rate(x[5m]))', total: 'sum(rate(y[$window]))'}\n",
        5,
        21,
        "slos[0].sli.raw.errors",
        "must use $window",
        id="raw-without-window",
    ),
    pytest.param(
        "slos:\n  - name: a\n    objective: 99\n    sli:\n      latency: {histogram: idp_deployment_duration_seconds, threshold: 700s}\n",
        5,
        72,
        "slos[0].sli.latency.threshold",
        "not a bucket boundary",
        id="latency-not-a-bucket",
    ),
    pytest.param(
        "slos:\n  - name: a\n    objective: 99\n    sli: {probe: {metric: x}, ratio: {errors: a, total: b}}\n",
        4,
        10,
        "slos[0].sli",
        "exactly one of ratio, latency, probe, raw",
        id="two-sli-kinds",
    ),
    pytest.param(
        RATIO_SLO.replace(
            "total: app_requests_total", "total: app_requests_total\n        group_by: [slo]"
        ),
        8,
        20,
        "slos[0].sli.ratio.group_by[0]",
        "cannot be grouped by",
        id="reserved-group-label",
    ),
    pytest.param(
        RATIO_SLO.replace(
            "total: app_requests_total", "total: app_requests_total\n        group_by: [slo_spec]"
        ),
        8,
        20,
        "slos[0].sli.ratio.group_by[0]",
        "cannot be grouped by",
        id="reserved-spec-identity-label",
    ),
    pytest.param(
        "alerts:\n  - {name: Bad, expr: 'up ==', severity: critical, summary: S.}\n",
        2,
        23,
        "alerts[0].expr",
        "invalid PromQL",
        id="bad-alert-expr",
    ),
    pytest.param(
        "alerts:\n  - {name: X1, expr: up, severity: critical, summary: S., labels: {a-b: c}}\n",
        2,
        67,
        "alerts[0].labels",
        "not a valid label name",
        id="bad-label-name",
    ),
    pytest.param(
        "slos:\n  - &a {name: x}\n",
        2,
        5,
        "$",
        "anchors are not allowed",
        id="anchor",
    ),
    pytest.param(
        "dashboards:\n  - {uid: a, title: T, rows: [{title: R, panels: [{title: P, type: pie, queries: [{expr: up}]}]}]}\n",
        2,
        68,
        "dashboards[0].rows[0].panels[0].type",
        "'stat'",
        id="dashboard-panel-type",
    ),
]


@pytest.mark.parametrize(("body", "line", "col", "path", "message"), CASES)
def test_bad_spec_is_located_and_exits_2(
    tmp_path: Path, body: str, line: int, col: int, path: str, message: str
) -> None:
    spec_path = spec(tmp_path, body)
    result = cli("validate", str(spec_path))
    assert result.exit_code == 2, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith(str(spec_path) + ":")]
    expected = f"{spec_path}:{line + HEAD.count(chr(10))}:{col}: {path}: "
    assert any(e.startswith(expected) and message in e for e in errors), result.stderr


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    body = (
        RATIO_SLO.replace("99.9", "120").replace("name: ok", "name: OK")
        + "alerts:\n  - {name: 1bad, expr: up, severity: '', summary: S.}\n"
    )
    result = cli("validate", str(spec(tmp_path, body)))
    assert result.exit_code == 2
    paths = [re.split(r": ", ln)[1] for ln in result.stderr.splitlines()[:-1]]
    assert result.stderr.splitlines()[-1].endswith("4 error(s); nothing written")
    assert paths == ["slos[0].name", "slos[0].objective", "alerts[0].name", "alerts[0].severity"]


def test_alias_bomb_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb)
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:1:4: $: YAML anchors are not allowed" in result.stderr


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + "#" * (MAX_BYTES + 1))
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:1:1: $: spec is larger than {MAX_BYTES} bytes" in result.stderr


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = spec(tmp_path, "x: " + "[" * 200 + "]" * 200 + "\n")
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert "nesting deeper than" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "spec is empty"),
        ("- a\n", "must be a YAML mapping"),
        ("a: 1\n---\nb: 2\n", "single document"),
    ],
)
def test_degenerate_documents(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    result = cli("validate", str(path))
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_spec_file_exits_2(tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read spec" in result.stderr


@pytest.mark.parametrize("case", [c.id for c in CASES])
def test_invalid_spec_leaves_the_previous_bundle_untouched(tmp_path: Path, case: str) -> None:
    good = spec(tmp_path, RATIO_SLO)
    assert cli("render", str(good)).exit_code == 0
    before = _bundle(tmp_path)
    assert len(before) == 13  # the whole bundle (docs/cli.md) and its manifest
    body = next(c.values[0] for c in CASES if c.id == case)
    spec(tmp_path, body)  # overwrite the spec with a bad one
    result = cli("render", str(good))
    assert result.exit_code == 2
    assert "nothing written" in result.stderr
    assert _bundle(tmp_path) == before
    assert not list(tmp_path.rglob("*.tmp"))


def _bundle(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "spec.yaml"}


def test_tiers_whose_clamped_windows_meet_are_refused(tmp_path: Path) -> None:
    # 1d at a 10m scrape: page-fast (P/720 = 2m) and page-slow (P/120 = 12m) are both
    # clamped to 40m/40m, so their critical alerts would be one series.
    body = "defaults: {window: 1d, scrape_interval: 10m}\n" + RATIO_SLO
    result = cli("validate", str(spec(tmp_path, body)))
    assert result.exit_code == 2
    assert (
        "tiers 'page-fast' and 'page-slow' both alert on 40m/40m with severity 'critical'"
        in result.stderr
    )
