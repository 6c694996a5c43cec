"""Burn-rate tiers as data, the SRE Workbook arithmetic that scales them to any period, and
where each window's error ratio comes from (raw series, bucket sums, hourly sums).

Long windows are period/k rounded to whole minutes; short windows are long/12, rounded;
both at least 4 scrape intervals (a rate needs several samples). Keeping the budget share
per tier fixed (factor x long / period) is what lets the factors stay 14.4/6/3/1 for 7d,
28d or 90d periods; Sloth instead rescales factors, Pyrra hard-codes 28d-style ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from common.durations import HOUR, MINUTE, format_seconds

AlertClass = Literal["page", "ticket"]


@dataclass(frozen=True)
class DefaultTier:
    name: str
    alert: AlertClass
    divisor: int  # long window = period / divisor
    factor: Decimal


DEFAULT_TIERS = (
    DefaultTier("page-fast", "page", 720, Decimal("14.4")),
    DefaultTier("page-slow", "page", 120, Decimal(6)),
    DefaultTier("ticket-fast", "ticket", 30, Decimal(3)),
    DefaultTier("ticket-slow", "ticket", 10, Decimal(1)),
)
SHORT_DIVISOR = 12
MIN_SCRAPES_PER_WINDOW = 4

# Base window: every SLO records its error and total event rates over this window; long
# windows and the period sum those recordings instead of re-reading raw series.
BASE_WINDOW = 5 * MINUTE

# Windows this long or longer are summed from recordings even for pages: reading raw
# series over them every evaluation is what makes long windows expensive.
SLOW_WINDOW_MIN = 12 * HOUR
# Summed windows and the period are evaluated in a slower group. Their values move
# slowly; alerts stay in the fast group and read the latest value, so `for` keeps its
# meaning.
SLOW_INTERVAL = 2 * MINUTE  # well under the 5m lookback, so readers never see a gap

# The chain: base samples (every evaluation) -> 5m bucket sums (a 5m group) -> hourly
# sums of those (a 1h group). Each level reads the one below over its own interval
# minus 1 ms: range selectors are closed at both ends, so a full-length range would
# count a sample at the bucket boundary in two buckets. Bucket and hourly series are
# read only through range selectors (a 1h group's sample is "fresh" for 5m only).
BUCKET = 5 * MINUTE
HOURLY = HOUR
# Fewer buckets than this would make a window coarse (a 28m window is 5 or 6 buckets).
CHAIN_WINDOW_MIN = HOUR

Source = Literal["base", "raw", "buckets", "hourly"]

MIN_PERIOD = 24 * HOUR
MAX_PERIOD = 90 * 24 * HOUR


def round_minutes(seconds: Fraction) -> int:
    """Nearest whole minute, halves up (deterministic, unlike banker's rounding)."""
    minutes = seconds / MINUTE
    return int(minutes + Fraction(1, 2)) * MINUTE


def clamp(seconds: int, scrape_interval: int) -> int:
    return max(seconds, MIN_SCRAPES_PER_WINDOW * scrape_interval)


def long_window(period: int, divisor: int, scrape_interval: int) -> int:
    return clamp(round_minutes(Fraction(period, divisor)), scrape_interval)


def short_window(long: int, scrape_interval: int) -> int:
    return clamp(round_minutes(Fraction(long, SHORT_DIVISOR)), scrape_interval)


def base_window(scrape_interval: int) -> int:
    return clamp(BASE_WINDOW, scrape_interval)


def is_slow(window: int) -> bool:
    return window >= SLOW_WINDOW_MIN


def source(window: int, base: int, period: int, page_windows: frozenset[int]) -> Source:
    """Where a window's error ratio comes from.

    base: the base recordings themselves. raw: the SLI's series over the window, every
    evaluation: exact, so page detection times hold (a page window under 12h, or any
    window too short to chain). hourly: the period, from hourly sums. buckets: every
    other window, from 5m bucket sums, evaluated every SLOW_INTERVAL.
    """
    if window == base:
        return "base"
    if window == period:
        return "hourly"
    if window < CHAIN_WINDOW_MIN or (window in page_windows and not is_slow(window)):
        return "raw"
    return "buckets"


def chain_step(src: Source) -> int:
    """The bucket a chained window is counted in."""
    return HOURLY if src == "hourly" else BUCKET


def chained_span(window: int, src: Source) -> int:
    """The span a chained window really covers: a whole number of its buckets, nearest."""
    step = chain_step(src)
    return max(1, int(Fraction(window, step) + Fraction(1, 2))) * step


def chain_lag(src: Source, base: int) -> int:
    """How far behind now a window's value may end: its newest bucket may be a bucket
    old, plus the smoothing of the base rate and one slow-group interval."""
    if src in ("base", "raw"):
        return 0
    below = BUCKET if src == "hourly" else 0
    return base + below + chain_step(src) + SLOW_INTERVAL


def short_range(seconds: int) -> str:
    """A range a millisecond short of `seconds` (`4m59s999ms`): see BUCKET."""
    return f"{format_seconds(seconds - 1)}999ms" if seconds > 1 else "999ms"


@dataclass(frozen=True)
class Burn:
    """Workbook figures for one tier: all derived from factor, windows, period, objective."""

    threshold: Decimal  # error ratio both windows must exceed: factor x (1 - objective)
    budget_spent: Decimal  # share of the period's budget burnt when it fires: factor x long / P
    detection_seconds: Decimal  # time to fire on a full outage: factor x (1 - objective) x long

    @classmethod
    @functools.lru_cache(maxsize=1024)  # asked for each tier by every rule and test
    def of(cls, factor: Decimal, budget: Decimal, long: int, period: int) -> Burn:
        threshold = factor * budget
        return cls(threshold, factor * long / period, threshold * long)

    def detection_at(self, error_rate: Decimal, long: int) -> Decimal | None:
        """Time to fire at a constant error rate; None if it never fires."""
        if error_rate <= self.threshold:
            return None
        return self.threshold / error_rate * long
