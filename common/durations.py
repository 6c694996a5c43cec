"""Prometheus duration strings: one grammar for specs and configs, printed as Prometheus does."""

from __future__ import annotations

import functools
import re

# Prometheus' own grammar (model.ParseDuration): units in this order, each at most once.
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_MS = (
    365 * 86_400_000,
    7 * 86_400_000,
    86_400_000,
    3_600_000,
    60_000,
    1_000,
    1,
)

# Prometheus holds every duration in a Go time.Duration (int64 nanoseconds): anything
# longer than about 292 years is "duration out of range" (`for: 1000y`).
MAX_MS = (2**63 - 1) // 1_000_000
MAX_TEXT = "106751d23h47m16s854ms"

MINUTE = 60
HOUR = 3600
DAY = 86_400


def parse_ms(text: str) -> int:
    """Milliseconds in a Prometheus duration such as `1h30m`; ValueError if malformed or zero."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}; use e.g. 500ms, 15s, 1m, 1h30m")
    total = sum(int(g) * mult for g, mult in zip(match.groups(), _UNIT_MS, strict=True) if g)
    if total <= 0:
        raise ValueError(f"duration {text!r} must be greater than zero")
    if total > MAX_MS:
        raise ValueError(f"duration {text!r} is out of range for Prometheus (at most {MAX_TEXT})")
    return total


def parse_seconds(text: str) -> int:
    """Whole seconds in a duration; windows and intervals never need sub-second precision."""
    ms = parse_ms(text)
    if ms % 1000:
        raise ValueError(f"duration {text!r} must be a whole number of seconds")
    return ms // 1000


@functools.cache  # a bundle prints the same few windows hundreds of thousands of times
def format_seconds(seconds: int) -> str:
    """Print like Prometheus' model.Duration.String(): 7d is `1w`, 30d stays `30d`, 84m is `1h24m`."""
    if seconds <= 0:
        return "0s"
    ms = seconds * 1000
    out = []
    # Years and weeks only when exact, as Prometheus does ("90d", not "12w6d").
    for unit, mult, exact in (
        ("y", _UNIT_MS[0], True),
        ("w", _UNIT_MS[1], True),
        ("d", _UNIT_MS[2], False),
        ("h", _UNIT_MS[3], False),
        ("m", _UNIT_MS[4], False),
        ("s", _UNIT_MS[5], False),
    ):
        if exact and ms % mult:
            continue
        value, ms = divmod(ms, mult)
        if value:
            out.append(f"{value}{unit}")
    return "".join(out)


def humanize_seconds(seconds: float) -> str:
    """Short human form used by `explain` (51.8s, 2.16min, 7.2h), as the SRE workbook writes them."""
    if seconds < MINUTE:
        return f"{seconds:.1f}s"
    if seconds < HOUR:
        return f"{seconds / MINUTE:.2f}min"
    if seconds < 2 * DAY:
        return f"{seconds / HOUR:.2f}h"
    return f"{seconds / DAY:.2f}d"
