"""Window and tier arithmetic against the SRE Workbook's table (ch. 5, table 5-8)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from common import durations
from rulegen import windows
from rulegen.model import load

from .helpers import spec

DAY = 86_400


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (3600, "1h"),
        (5040, "1h24m"),
        (DAY, "1d"),
        (7 * DAY, "1w"),
        (14 * DAY, "2w"),
        (28 * DAY, "4w"),
        (30 * DAY, "30d"),
        (90 * DAY, "90d"),
        (365 * DAY, "1y"),
        (2 * DAY + 19 * 3600 + 12 * 60, "2d19h12m"),
        (90, "1m30s"),
    ],
)
def test_durations_print_like_prometheus(seconds: int, text: str) -> None:
    assert durations.format_seconds(seconds) == text
    assert durations.parse_seconds(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "1m1h", "5 m", "-1m", "0s", "1.5h", "250ms"])
def test_bad_durations_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        durations.parse_seconds(bad)


# period, scrape, expected (long, short) per default tier
@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("30d", [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]),
        ("28d", [("56m", "5m"), ("5h36m", "28m"), ("22h24m", "1h52m"), ("2d19h12m", "5h36m")]),
        # 7d/720 = 14m, /12 = 1m10s -> 1m -> clamped to 4 x 30s
        ("7d", [("14m", "2m"), ("1h24m", "7m"), ("5h36m", "28m"), ("16h48m", "1h24m")]),
        # 1d/720 = 2m, 1d/120 = 12m -> short 1m -> clamped
        ("1d", [("2m", "2m"), ("12m", "2m"), ("48m", "4m"), ("2h24m", "12m")]),
        ("90d", [("3h", "15m"), ("18h", "1h30m"), ("3d", "6h"), ("9d", "18h")]),
    ],
)
def test_default_tier_windows_scale_with_the_period(
    period: str, expected: list[tuple[str, str]]
) -> None:
    p = durations.parse_seconds(period)
    got = []
    for tier in windows.DEFAULT_TIERS:
        long = windows.long_window(p, tier.divisor, 30)
        got.append(
            (
                durations.format_seconds(long),
                durations.format_seconds(windows.short_window(long, 30)),
            )
        )
    assert got == expected


def test_rounding_is_to_the_nearest_minute_halves_up() -> None:
    assert windows.round_minutes(Fraction(89)) == 60
    assert windows.round_minutes(Fraction(90)) == 120
    assert windows.round_minutes(Fraction(29)) == 0
    assert windows.clamp(0, 30) == 120


# Workbook table 5-8, 30d, 99.9 %: threshold, budget spent, detection of a full outage.
WORKBOOK = [
    ("page-fast", "1h", "5m", "14.4", "0.0144", "0.02", 51.84),
    ("page-slow", "6h", "30m", "6", "0.006", "0.05", 129.6),
    ("ticket-fast", "1d", "2h", "3", "0.003", "0.1", 259.2),
    ("ticket-slow", "3d", "6h", "1", "0.001", "0.1", 259.2),
]


def test_tiers_match_the_workbook_for_30d_at_99_9(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = spec(
        tmp_path,
        """\
        slos:
          - name: a
            objective: 99.9
            sli: {ratio: {errors: e_total, total: t_total}}
        """,
    )
    slo = load(str(path)).slos[0]
    rows = []
    for tier in slo.tiers:
        burn = slo.burn(tier)
        rows.append(
            (
                tier.name,
                durations.format_seconds(tier.long),
                durations.format_seconds(tier.short),
                str(tier.factor),
                str(burn.threshold.normalize()),
                str(burn.budget_spent.normalize()),
                float(burn.detection_seconds),
            )
        )
    assert rows == WORKBOOK
    # At a 1 % error rate only the slower tiers fire: page-slow after 3.6h, tickets after 7.2h.
    at_1pct = [slo.burn(t).detection_at(Decimal("0.01"), t.long) for t in slo.tiers]
    assert at_1pct[0] is None
    assert [float(x) / 3600 for x in at_1pct[1:] if x is not None] == [3.6, 7.2, 7.2]


def test_explain_prints_the_workbook_numbers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .helpers import cli

    path = spec(
        tmp_path,
        """\
        slos:
          - name: a
            objective: 99.9
            sli: {ratio: {errors: e_total, total: t_total}}
        """,
    )
    result = cli("explain", str(path))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    page_fast = next(line for line in lines if line.strip().startswith("page-fast"))
    assert page_fast.split() == [
        "page-fast",
        "critical",
        "1h/5m",
        "14.4",
        "0.0144",
        "(1.44%)",
        "2%",
        "51.8s",
        "1.44%",
    ]
    page_slow = next(line for line in lines if line.strip().startswith("page-slow"))
    assert "2.16min" in page_slow and "5%" in page_slow
    assert "4.32min" in next(line for line in lines if line.strip().startswith("ticket-fast"))


def test_explain_reports_the_lag_of_summed_windows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .helpers import cli

    path = spec(
        tmp_path,
        """\
        defaults: {window: 7d}
        slos:
          - name: a
            objective: 99
            sli: {ratio: {errors: e_total, total: t_total}}
        """,
    )
    result = cli("explain", str(path))
    assert result.exit_code == 0
    notes = [
        line.strip() for line in result.output.splitlines() if "lag" in line or "every" in line
    ]
    # 7d: pages 14m/2m and 1h24m/7m stay raw (no lag); tickets 5h36m/28m, 16h48m/1h24m.
    assert notes == [
        "ticket-fast: the 5h36m window sums 5m buckets (5h35m) every 2m: it may lag by up to 12m",
        "ticket-slow: the 16h48m window sums 5m buckets (16h50m) every 2m: it may lag by up to 12m",
        "period: the 1w window sums hourly sums every 2m: it may lag by up to 1h12m",
    ]


@pytest.mark.parametrize(
    ("window", "src", "span"),
    [
        (5 * 3600 + 36 * 60, "buckets", 5 * 3600 + 35 * 60),  # 67.2 buckets -> 67
        (16 * 3600 + 48 * 60, "buckets", 16 * 3600 + 50 * 60),  # 201.6 -> 202
        (7 * 86400, "hourly", 7 * 86400),
        (86400 + 1800, "hourly", 86400 + 3600),  # 24.5 hours -> 25, halves up
    ],
)
def test_chained_windows_cover_whole_buckets(window: int, src: str, span: int) -> None:
    assert windows.chained_span(window, src) == span  # type: ignore[arg-type]


def test_chained_ranges_are_a_millisecond_short() -> None:
    assert windows.short_range(300) == "4m59s999ms"
    assert windows.short_range(7 * 86400) == "6d23h59m59s999ms"
    assert durations.parse_ms(windows.short_range(3600)) == 3600 * 1000 - 1
