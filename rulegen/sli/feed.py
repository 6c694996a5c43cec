"""Synthesised input series for the generated promtool tests: counters from error shares.

A feed is a list of segments, each a number of samples at a constant error ratio (None:
no traffic). Kinds turn segments into the series their selectors read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from rulegen import promql

EVENTS_PER_SAMPLE = Decimal(1000)

Segment = tuple[int, Decimal | None]  # (samples, error ratio); None: no traffic
Share = Callable[[Decimal], Decimal]  # error ratio -> the share of events a series counts


@dataclass(frozen=True)
class InputSeries:
    """One `input_series` entry: a series and its promtool expanding notation."""

    series: str
    values: str

    def as_dict(self) -> dict[str, object]:
        return {"series": self.series, "values": self.values}


def braces(labels: dict[str, str]) -> str:
    """`{a="b",c="d"}`: labels as a series or selector writes them, always braced."""
    return "{" + ",".join([f"{k}={promql.string(v)}" for k, v in labels.items()]) + "}"


def num(value: Decimal) -> str:
    return promql.number(value) if value else "0"


def group_of(labels: dict[str, str], group_by: tuple[str, ...]) -> dict[str, str]:
    """The group_by labels a fed series carries (empty values are left off the series)."""
    return {g: labels[g] for g in group_by if labels.get(g)}


def bad(ratio: Decimal) -> Decimal:
    return ratio


def good(ratio: Decimal) -> Decimal:
    return 1 - ratio


def every(ratio: Decimal) -> Decimal:
    return Decimal(1)


def _events_per_sample(segments: Sequence[Segment]) -> Decimal:
    """Events per sample making every counter step an integer.

    promtool expands `a+bxn` by repeated float addition; with fractional steps the next
    segment's exact start can sit a hair below it, which rate() reads as a counter reset.
    """
    exponents = [r.normalize().as_tuple().exponent for _, r in segments if r is not None]
    digits = max((-e for e in exponents if isinstance(e, int)), default=0)
    return EVENTS_PER_SAMPLE.max(Decimal(10) ** int(digits))


def counter(
    name: str, labels: dict[str, str], segments: Sequence[Segment], share: Share
) -> InputSeries:
    """A counter of `share` of the events, `start+stepxN` per segment, first sample 0."""
    n = _events_per_sample(segments)
    parts, last = [], None
    for count, ratio in segments:
        step = Decimal(0) if ratio is None else share(ratio) * n
        start = Decimal(0) if last is None else last + step
        parts.append(f"{num(start)}+{num(step)}x{count - 1}")
        last = start + step * (count - 1)
    return InputSeries(name + braces(labels), " ".join(parts))
