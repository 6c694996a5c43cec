"""A latency SLO whose threshold is not a bucket bound is dead: it records nothing and
never burns. The threshold is checked against the buckets we know (the exporter catalog's
or the spec's `latency.buckets`); otherwise the absent alert watches the bucket itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import assert_refused, cli, run_promtool, spec


def _latency(histogram: str, threshold: str, extra: str = "") -> str:
    return (
        "slos:\n  - name: l\n    objective: 99\n    sli:\n      latency:\n"
        f"        histogram: {histogram}\n        threshold: {threshold}\n{extra}"
    )


_T = "slos[0].sli.latency.threshold"
_B = "slos[0].sli.latency.buckets"
DEAD = [
    pytest.param(_latency("h_seconds", "0.1", "        buckets: [0.25, 0.5, 1]\n"), 7, _T,
                 "0.1s is not a bucket boundary of h_seconds (buckets: 0.25, 0.5, 1)",
                 id="declared-buckets"),
    pytest.param(_latency("idp_probe_duration_seconds", "0.123"), 7, _T,
                 "0.123s is not a bucket boundary of idp_probe_duration_seconds",
                 id="catalog-buckets"),
    pytest.param(_latency("idp_probe_duration_seconds", "0.1", "        buckets: [0.1]\n"), 8, _B,
                 "the exporter catalog, which declares its buckets", id="catalog-declares"),
    pytest.param(_latency("h_seconds", ".inf"), 7, _T, "must be finite", id="threshold-inf"),
    pytest.param(_latency("h_seconds", "+.Inf"), 7, _T, "must be finite", id="threshold-plus-inf"),
    pytest.param(_latency("h_seconds", ".nan"), 7, _T, "positive", id="threshold-nan"),
    pytest.param(_latency("h_seconds", "0.5", "        buckets: []\n"), 8, _B, "at least 1 item",
                 id="empty-buckets"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "line", "where", "message"), DEAD)
def test_dead_threshold_is_a_located_error(
    tmp_path: Path, body: str, line: int, where: str, message: str
) -> None:
    assert_refused(spec(tmp_path, body), line, where, message)


def test_threshold_among_declared_buckets_validates(tmp_path: Path) -> None:
    path = spec(tmp_path, _latency("h_seconds", "250ms", "        buckets: [0.1, 0.25, 1]\n"))
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.output


def _render(tmp_path: Path, body: str) -> dict[str, object]:
    path = spec(tmp_path, body)
    out = tmp_path / "out"
    result = cli("render", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    data: dict[str, object] = yaml.safe_load((out / "alerts" / "t.rules.yml").read_text())
    return data


def _absent_rule(rules_file: dict[str, object]) -> dict[str, object]:
    groups = rules_file["groups"]
    assert isinstance(groups, list)
    return next(r for g in groups for r in g["rules"] if r.get("alert") == "SLOMetricAbsent")


def _promtool_test(
    tmp_path: Path, promtool: str, series: dict[str, str], checks: list[dict[str, object]]
) -> None:
    """promtool test rules on the rendered rules: `series` fed every 30s for 2h."""
    test = {
        "rule_files": ["out/alerts/t.rules.yml"],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "30s",
                "input_series": [{"series": k, "values": v} for k, v in series.items()],
                "alert_rule_test": [{"alertname": "SLOMetricAbsent", **c} for c in checks],
            }
        ],
    }
    test_file = tmp_path / "bucket.test.yml"
    test_file.write_text(yaml.safe_dump(test))
    proc = run_promtool(promtool, "test", "rules", str(test_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_absent_alert_fires_when_the_threshold_bucket_is_missing(
    tmp_path: Path, promtool: str
) -> None:
    """The attack: a trusted histogram without `le="0.1"`, 100 % slow requests for 2h.
    Before, the absent alert read only `_count` and nothing fired; now it fires at 10m."""
    absent = _absent_rule(_render(tmp_path, _latency('h_seconds{job="api"}', "0.1")))
    assert absent["expr"] == (
        r'absent(h_seconds_count{job="api"}) or on() absent(h_seconds_bucket{job="api",le=~"0\\.1"})'
    )
    labels = absent["labels"]
    assert isinstance(labels, dict)
    # Every request slower than 0.25s: all land in the +Inf bucket.
    series = {
        'h_seconds_count{job="api"}': "0+60x240",
        'h_seconds_bucket{job="api",le="0.25"}': "0x240",
        'h_seconds_bucket{job="api",le="+Inf"}': "0+60x240",
    }
    # absent() copies the equality matchers; `le` is a regex, so it is not a label.
    firing = {"exp_labels": {"job": "api", **labels}, "exp_annotations": absent["annotations"]}
    checks = [
        {"eval_time": "9m", "exp_alerts": []},
        {"eval_time": "2h", "exp_alerts": [firing]},
    ]
    _promtool_test(tmp_path, promtool, series, checks)


def test_absent_alert_stays_quiet_with_the_bucket_present(tmp_path: Path, promtool: str) -> None:
    absent = _absent_rule(_render(tmp_path, _latency('h_seconds{job="api"}', "0.25")))
    assert "le=~" in str(absent["expr"])
    series = {
        'h_seconds_count{job="api"}': "0+60x240",
        # Python's client writes 0.25 as "0.25": the matcher accepts it.
        'h_seconds_bucket{job="api",le="0.25"}': "0+60x240",
    }
    _promtool_test(tmp_path, promtool, series, [{"eval_time": "2h", "exp_alerts": []}])
