"""Burn-rate tiers as data, and the SRE Workbook arithmetic that scales them to any period.

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

from common.durations import HOUR, MINUTE

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

# Windows this long or longer, and the period, are evaluated in a slower group. Their
# values move slowly, so a 2m-old value is within 0.3 % of the window; alerts stay in
# the fast group and read the latest value, so `for` keeps its meaning.
SLOW_WINDOW_MIN = 12 * HOUR
SLOW_INTERVAL = 2 * MINUTE  # well under the 5m lookback, so readers never see a gap

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
