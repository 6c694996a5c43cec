"""Synthetic request counters for bench/rule_cost.py (a library, not a bench): their
history, live values as an exposition, and the exact error ratio of any window.

Per SLO two counters, `bench_requests_total{slo, code="200"|"500"}`. Traffic follows a
day: 100x between the quiet night and the busy afternoon, and the error ratio is highest
at night, so a mean of 5m ratios (Sloth's period) overweights the few night requests.
Rates are constant within each 30 s step; a counter's value is the exact integral, so
the exact ratio of a window is a difference of counter values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STEP = 30
METRIC = "bench_requests_total"
JOB = 'job="bench",instance="traffic"'


def day_shape(seconds: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """0.01 (4 am) .. 1 (4 pm): a smooth 100x day."""
    phase = np.cos(2 * math.pi * ((seconds / 3600.0) % 24 - 16) / 24)
    return np.power(10.0, -1.0 + phase)


@dataclass
class Traffic:
    """Counters for `slos` SLOs from `start` for `steps` steps of STEP seconds."""

    slos: int
    start: int
    steps: int
    seed: int = 7

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        t = self.start + STEP * np.arange(self.steps)
        shape = day_shape(t)
        peak = rng.uniform(5, 50, size=(self.slos, 1))  # requests/s at the busy peak
        total = peak * shape
        # 0.1-1 % errors at the peak, 4x that at night, with +-30 % noise per step.
        ratio = rng.uniform(0.001, 0.01, size=(self.slos, 1)) * (1 + 3 * (1 - shape))
        noise = rng.uniform(0.7, 1.3, size=(self.slos, self.steps))
        errors = total * ratio * noise
        self.rates = {"500": errors, "200": total - errors}
        # counters[code][slo, k] = value at start + k * STEP
        self.counters = {
            code: np.concatenate([np.zeros((self.slos, 1)), np.cumsum(r * STEP, axis=1)], axis=1)
            for code, r in self.rates.items()
        }

    def value(self, code: str, slo: int, at: float) -> float:
        k = min(int((at - self.start) // STEP), self.steps - 1)
        base = self.counters[code][slo, k]
        return float(base + self.rates[code][slo, k] * (at - self.start - k * STEP))

    def exact_ratio(self, slo: int, frm: float, to: float) -> float:
        errors = self.value("500", slo, to) - self.value("500", slo, frm)
        ok = self.value("200", slo, to) - self.value("200", slo, frm)
        return errors / (errors + ok)

    def exposition(self, at: float) -> str:
        lines = [f"# TYPE {METRIC} counter"]
        for slo in range(self.slos):
            for code in ("200", "500"):
                value = self.value(code, slo, at)
                lines.append(f'{METRIC}{{{JOB},app="s{slo:03d}",code="{code}"}} {value:.6f}')
        return "\n".join(lines) + "\n"
