"""The pure parts on their own: the end time, firing intervals, the burn-down."""

from __future__ import annotations

import pytest

from rulegen.report.client import Series, public_url
from rulegen.report.figures import burndown, firings
from rulegen.report.queries import parse_end


def test_end_time_forms() -> None:
    assert parse_end("2026-01-01T00:00:00Z") == 1_767_225_600
    assert parse_end("2026-01-01T01:00:00+01:00") == 1_767_225_600
    assert parse_end("1767225600") == 1_767_225_600
    assert parse_end(None, now=1_767_225_659.9) == 1_767_225_600  # now, to the minute
    with pytest.raises(ValueError, match="zone"):
        parse_end("2026-01-01T00:00:00")


def test_firing_samples_further_apart_than_the_lookback_are_two_intervals() -> None:
    labels = {"severity": "critical", "long_window": "1h", "short_window": "5m"}
    points = tuple((float(t), 1.0) for t in (*range(0, 601, 60), *range(1000, 1121, 60)))
    got = firings([Series(labels, points)])
    assert [(f.start, f.end, f.duration) for f in got] == [(0, 600, 600), (1000, 1120, 120)]
    assert got[0].labels == "critical 1h/5m"


def test_burndown_only_falls_and_spends_the_whole_period_budget() -> None:
    errors = [(60.0, 1.0), (120.0, 0.0), (180.0, 3.0)]
    totals = [(60.0, 100.0), (120.0, 100.0), (180.0, 200.0)]
    # budget 5 % of 400 events = 20 allowed errors
    assert burndown(errors, totals, 0.05, 0.0) == (
        (0.0, 1.0),
        (60.0, 0.95),
        (120.0, 0.95),
        (180.0, 0.8),
    )
    assert burndown(errors, [(60.0, 0.0)], 0.05, 0.0) == ()  # no events: no chart


def test_messages_show_the_url_without_credentials() -> None:
    assert public_url("https://u:p@prom.example:9090/prefix/") == "https://prom.example:9090/prefix"
