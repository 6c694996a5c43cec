"""Pure: model -> promtool unit tests that prove the generated rules (alerts/tests/<spec>.test.yml).

Per SLO:
- each tier fires with a constant error ratio just above its threshold and stays silent
  just below it (every tier with a lower threshold fires too, and the test says so);
- a full outage after a window of good traffic fires the fastest page tier within the
  workbook's detection time plus evaluation slack;
- traffic that stops leaves no NaN: short windows go absent, the period keeps its value;
- with no series at all, SLOMetricAbsent fires;
- the period ratio equals total errors / total events while traffic varies 100x across a
  day (compressed to 24 one-minute samples of the base-window recordings, which is what
  the period rule sums; 30 days of raw samples would make the suite slow for no gain).
Assertions on alerts query ALERTS{slo=...} so that other SLOs sharing a metric cannot
interfere; an alert_rule_test also checks annotations where the SLO's metrics are its own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import promql_parser

from common.durations import format_seconds
from rulegen import fixtures, naming, promql, rules, windows
from rulegen.model import SLO, Latency, Model, Probe, Ratio, Raw, Tier
from rulegen.promql import Matcher, Selector

EVENTS_PER_SAMPLE = Decimal(1000)
MIN_EVAL = 30
TOLERANCE = "1e-6"  # relative, for ratios computed from rates (float noise only)

# A day of traffic in 24 samples: 10..1000 events/s (100x), one sample with no traffic,
# a night incident (50 % errors at low traffic) and a trickle of errors at peak.
DAY_TOTAL = (
    10,
    10,
    10,
    10,
    0,
    10,
    50,
    200,
    600,
    1000,
    1000,
    1000,
    1000,
    1000,
    1000,
    1000,
    1000,
    600,
    200,
    100,
    50,
    20,
    10,
    10,
)
DAY_ERRORS = (0, 0, 5, 5, 0, 0, 0, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0)
# Probes are time-based: one probed series, down half of two samples and a quarter of one.
DAY_PROBE_DOWN = (0, 0, 0.5, 0.5, 0, 0, 0, 0.25, *([0] * 16))
DAY_SAMPLE = 60  # a 'day' of 24 one-minute samples: sums do not care about scale

Segment = tuple[int, Decimal | None]  # (samples, error ratio); None: no traffic
Test = tuple[str, dict[str, Any]]


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f"{k}={promql.string(v)}" for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _num(value: Decimal) -> str:
    return rules.number(value) if value else "0"


def _events_per_sample(segments: list[Segment]) -> Decimal:
    """Events per sample making every counter step an integer.

    promtool expands `a+bxn` by repeated float addition; with fractional steps the next
    segment's exact start can sit a hair below it, which rate() reads as a counter reset.
    """
    exponents = [r.normalize().as_tuple().exponent for _, r in segments if r is not None]
    digits = max((-e for e in exponents if isinstance(e, int)), default=0)
    return EVENTS_PER_SAMPLE.max(Decimal(10) ** int(digits))


def _counter(segments: list[Segment], per_sample: Callable[[Decimal | None], Decimal]) -> str:
    """Cumulative counter values, `start+stepxN` per segment, first sample 0."""
    parts, last = [], None
    for count, ratio in segments:
        step = per_sample(ratio)
        start = Decimal(0) if last is None else last + step
        parts.append(f"{_num(start)}+{_num(step)}x{count - 1}")
        last = start + step * (count - 1)
    return " ".join(parts)


@dataclass(frozen=True)
class Feed:
    """Input series for an SLI, built from label sets its selectors really match."""

    sli: Ratio | Latency | Probe
    labels: tuple[dict[str, str], ...]  # errors/good/total or histogram or probe labels

    @property
    def group(self) -> dict[str, str]:
        return {g: self.labels[0][g] for g in self.sli.group_by if self.labels[0].get(g)}

    def series(self, segments: list[Segment]) -> list[dict[str, str]]:
        n = _events_per_sample(segments)

        def bad(r: Decimal | None) -> Decimal:
            return Decimal(0) if r is None else r * n

        def good(r: Decimal | None) -> Decimal:
            return Decimal(0) if r is None else (1 - r) * n

        def every(r: Decimal | None) -> Decimal:
            return Decimal(0) if r is None else n

        match self.sli:
            case Ratio(errors=e, total=t):
                if e.metric == t.metric:
                    return [
                        _series(e.metric, self.labels[0], _counter(segments, bad)),
                        _series(t.metric, self.labels[1], _counter(segments, good)),
                    ]
                return [
                    _series(e.metric, self.labels[0], _counter(segments, bad)),
                    _series(t.metric, self.labels[1], _counter(segments, every)),
                ]
            case Latency(histogram=h, threshold=threshold):
                le = {**self.labels[0], "le": promql.le_values(threshold)[0]}
                return [
                    _series(f"{h.metric}_count", self.labels[0], _counter(segments, every)),
                    _series(f"{h.metric}_bucket", le, _counter(segments, good)),
                ]
            case Probe(metric=m):
                values = []
                for count, ratio in segments:
                    if ratio is None:
                        values.append("stale")
                        break
                    values.append(f"{_num(1 - ratio)}x{count - 1}")
                return [_series(m.metric, self.labels[0], " ".join(values))]


def _pin(labels: dict[str, str], group_by: tuple[str, ...]) -> Selector:
    """A selector forcing the same group values onto another series."""
    return Selector("_", tuple(Matcher(g, "=", labels.get(g, "")) for g in group_by))


def feed(slo: SLO) -> Feed | None:
    """Real input series for the SLI, or None when they cannot be synthesised (raw SLIs)."""
    s = slo.sli
    match s:
        case Ratio(errors=e, total=t, group_by=gb):
            bad = fixtures.labels_for([e, t] if e.metric == t.metric else [e], gb)
            if bad is None:
                return None
            other = fixtures.labels_for(
                [t, _pin(bad, gb)], gb, violate=e if e.metric == t.metric else None
            )
            return None if other is None else Feed(s, (bad, other))
        case Latency(histogram=h, group_by=gb) | Probe(metric=h, group_by=gb):
            labels = fixtures.labels_for([h], gb)
            return None if labels is None else Feed(s, (labels,))
        case Raw():
            return None


def _round3(value: Decimal, up: bool = False) -> Decimal:
    """Three significant digits, so `$value | humanizePercentage` renders predictably."""
    exponent = value.adjusted() - 2
    quantum = Decimal(1).scaleb(exponent)
    return value.quantize(quantum, rounding=ROUND_CEILING if up else "ROUND_HALF_EVEN")


def _above(threshold: Decimal) -> Decimal:
    r = _round3(threshold * Decimal("1.05"), up=True)
    return r if r < 1 else _round3((threshold + 1) / 2, up=True)


def _below(threshold: Decimal) -> Decimal:
    return _round3(threshold * Decimal("0.95"))


def _humanize_percentage(value: Decimal) -> str:
    return "%.4g%%" % (float(value) * 100)  # Go: fmt.Sprintf("%.4g%%", v*100)


def _ceil_to(seconds: float, step: int) -> int:
    return math.ceil(seconds / step) * step


def _metrics(slo: SLO) -> set[str]:
    s = slo.sli
    match s:
        case Ratio():
            return {s.errors.metric, s.total.metric}
        case Latency():
            return {f"{s.histogram.metric}_count", f"{s.histogram.metric}_bucket"}
        case Probe():
            return {s.metric.metric}
        case Raw():
            names: set[str] = set()
            for expr in (s.errors, s.total):
                promql_parser.walk(
                    promql_parser.parse(promql.fill_window(expr, "5m")),
                    pre_visit=lambda n: (
                        names.add(str(n.name))
                        if isinstance(n, promql_parser.VectorSelector)
                        else None
                    ),
                )
            return names


class _SLOTests:
    def __init__(self, model: Model, slo: SLO, shares_metrics: bool) -> None:
        self.model, self.slo = model, slo
        self.scrape = model.scrape_interval
        self.eval = max(MIN_EVAL, self.scrape)
        self.feed = feed(slo)
        self.group = self.feed.group if self.feed else {}
        self.check_annotations = not shares_metrics
        self.series_labels = {**dict(rules.common_labels(model, slo)), **self.group}

    # -- helpers -------------------------------------------------------------------------

    def _samples(self, seconds: int) -> int:
        return seconds // self.scrape + 1

    def _firing(self, tiers: list[Tier]) -> list[dict[str, Any]]:
        return [{"labels": self._tier_series[tier.name], "value": 1} for tier in tiers]

    @functools.cached_property
    def _tier_series(self) -> dict[str, str]:
        """The ALERTS series each tier's alert makes, built once (every tier test names them)."""
        out = {}
        for tier in self.slo.tiers:
            labels = {**self.group, **dict(rules.burn_alert(self.model, self.slo, tier).labels)}
            out[tier.name] = self._alerts_series(labels)
        return out

    def _alerts_series(self, labels: dict[str, str]) -> str:
        alert = {"alertname": self.slo.alert_name, "alertstate": "firing", **labels}
        return "ALERTS" + _labels(alert)

    def _alerts_query(self, tier: Tier | None = None, name: str | None = None) -> str:
        matchers = {
            "alertname": name or self.slo.alert_name,
            "slo": self.slo.name,
            "alertstate": "firing",
        }
        if tier is not None:
            matchers |= {
                naming.LABEL_LONG_WINDOW: format_seconds(tier.long),
                naming.LABEL_SHORT_WINDOW: format_seconds(tier.short),
            }
        return "ALERTS" + _labels(matchers)

    def _constant_inputs(self, ratio: Decimal, samples: int) -> list[dict[str, str]]:
        if self.feed is not None:
            return self.feed.series([(samples, ratio)])
        # Raw SLIs: feed the window ratios the alerts read (the raw PromQL is the user's).
        windows_ = sorted({w for t in self.slo.tiers for w in (t.long, t.short)})
        return [
            _series(naming.sli_error_ratio(w), self.series_labels, f"{_num(ratio)}x{samples - 1}")
            for w in windows_
        ]

    def _ratio(self, window: int) -> str:
        return naming.sli_error_ratio(window) + _labels({"slo": self.slo.name})

    # -- tests ---------------------------------------------------------------------------

    def tier_tests(self) -> list[Test]:
        tiers = list(self.slo.tiers)
        if not tiers:
            return []
        longest_for = max(t.for_ or 0 for t in tiers)
        at = _ceil_to(self.slo.base + longest_for + 2 * self.eval, self.eval)
        out: list[Test] = []
        for tier in tiers:
            threshold = self.slo.burn(tier).threshold
            for label, ratio in (("above", _above(threshold)), ("below", _below(threshold))):
                firing = [t for t in tiers if self.slo.burn(t).threshold < ratio]
                test: dict[str, Any] = {
                    "interval": format_seconds(self.scrape),
                    "input_series": self._constant_inputs(ratio, self._samples(at)),
                    "promql_expr_test": [
                        {
                            "expr": self._alerts_query(),
                            "eval_time": format_seconds(at),
                            "exp_samples": self._firing(firing),
                        }
                    ],
                }
                if label == "above" and self.check_annotations:
                    test["alert_rule_test"] = [
                        {
                            "eval_time": format_seconds(at),
                            "alertname": self.slo.alert_name,
                            "exp_alerts": self._exp_alerts(firing, ratio),
                        }
                    ]
                comment = (
                    f"{self.slo.name}: tier {tier.name} {'fires' if label == 'above' else 'stays silent'} "
                    f"at an error ratio of {ratio} ({label} its threshold {rules.number(threshold)})"
                )
                out.append((comment, test))
        return out

    def _exp_alerts(self, tiers: list[Tier], ratio: Decimal) -> list[dict[str, Any]]:
        out = []
        for tier in tiers:
            alert = rules.burn_alert(self.model, self.slo, tier)
            annotations = dict(alert.annotations)
            annotations["description"] = rules.burn_description(
                self.slo, tier, _humanize_percentage(ratio), self.slo.description
            )
            out.append(
                {"exp_labels": {**self.group, **dict(alert.labels)}, "exp_annotations": annotations}
            )
        return out

    def outage_test(self) -> list[Test]:
        pages = [t for t in self.slo.tiers if t.alert == "page"]
        if self.feed is None or not pages:
            return []
        tier = min(pages, key=lambda t: self.slo.burn(t).detection_seconds)
        chained = windows.is_slow(tier.long)
        warm = _ceil_to(tier.long + (self.slo.base if chained else 0), self.scrape)
        detect = float(self.slo.burn(tier).detection_seconds)
        slack = (
            (tier.for_ or 0) + 2 * self.eval + 2 * self.scrape + (self.slo.base if chained else 0)
        )
        check = warm + _ceil_to(detect + slack, self.eval)
        segments: list[Segment] = [
            (self._samples(warm), Decimal(0)),
            ((check - warm) // self.scrape, Decimal(1)),
        ]
        test = {
            "interval": format_seconds(self.scrape),
            "input_series": self.feed.series(segments),
            "promql_expr_test": [
                {
                    "expr": self._alerts_query(tier),
                    "eval_time": format_seconds(warm),
                    "exp_samples": [],
                },
                {
                    "expr": self._alerts_query(tier),
                    "eval_time": format_seconds(check),
                    "exp_samples": self._firing([tier]),
                },
            ],
        }
        comment = (
            f"{self.slo.name}: a full outage fires tier {tier.name} within its detection time "
            f"{detect:.1f}s plus {slack}s of evaluation slack"
        )
        return [(comment, test)]

    def zero_traffic_test(self) -> list[Test]:
        thresholds = [self.slo.burn(t).threshold for t in self.slo.tiers] or [self.slo.budget]
        ratio = _round3(min(thresholds) / 2)
        shortest = min(self.slo.alert_windows(), default=self.slo.base)
        busy = _ceil_to(max(2 * self.slo.base, 600), self.scrape)
        quiet = _ceil_to(2 * max(self.slo.base, shortest), self.scrape)
        at = busy + quiet
        if self.feed is not None:
            inputs = self.feed.series([(self._samples(busy), ratio), (quiet // self.scrape, None)])
        else:
            n = self._samples(busy)
            inputs = [
                _series(
                    naming.error_events(self.slo.base),
                    self.series_labels,
                    f"{_num(ratio)}x{n - 1} 0x{quiet // self.scrape - 1}",
                ),
                _series(
                    naming.total_events(self.slo.base),
                    self.series_labels,
                    f"1x{n - 1} 0x{quiet // self.scrape - 1}",
                ),
            ]
        when = format_seconds(at)
        checks: list[dict[str, Any]] = [
            {"expr": self._alerts_query(), "eval_time": when, "exp_samples": []},
            {"expr": self._ratio(self.slo.base), "eval_time": when, "exp_samples": []},
        ]
        checks += [
            {"expr": f"{self._ratio(w)} != {self._ratio(w)}", "eval_time": when, "exp_samples": []}
            for w in self.slo.windows()
        ]
        period = self._ratio(self.slo.period)
        checks.append(
            {
                "expr": f"abs({period} - {_num(ratio)}) < bool {_num(ratio)} * {TOLERANCE}",
                "eval_time": when,
                "exp_samples": [{"labels": _labels(self.series_labels), "value": 1}],
            }
        )
        comment = (
            f"{self.slo.name}: traffic stops after {format_seconds(busy)} at an error ratio of "
            f"{ratio}; no alert, no NaN, short windows absent, the period keeps {ratio}"
        )
        test = {
            "interval": format_seconds(self.scrape),
            "input_series": inputs,
            "promql_expr_test": checks,
        }
        return [(comment, test)]

    def absent_check(self, at: int) -> dict[str, Any]:
        alert = rules.absent_alert(self.model, self.slo)
        labels = {**_absent_labels(self.slo), **dict(alert.labels)}
        series = "ALERTS" + _labels(
            {"alertname": naming.ABSENT_ALERT, "alertstate": "firing", **labels}
        )
        return {
            "expr": self._alerts_query(name=naming.ABSENT_ALERT),
            "eval_time": format_seconds(at),
            "exp_samples": [{"labels": series, "value": 1}],
        }

    def absent_alert(self) -> dict[str, Any]:
        alert = rules.absent_alert(self.model, self.slo)
        annotations = dict(alert.annotations)
        annotations["description"] = rules.absent_description(self.slo)
        labels = {**_absent_labels(self.slo), **dict(alert.labels)}
        return {"exp_labels": labels, "exp_annotations": annotations}

    def period_test(self) -> list[Test]:
        if isinstance(self.slo.sli, Probe):
            errors: tuple[float | int, ...] = DAY_PROBE_DOWN
            totals: tuple[int, ...] = tuple(1 for _ in DAY_PROBE_DOWN)
        else:
            errors, totals = DAY_ERRORS, DAY_TOTAL
        expected = sum(errors) / sum(totals)
        at = format_seconds(DAY_SAMPLE * (len(totals) - 1))
        budget = float(rules.number(self.slo.budget))
        test = {
            "interval": format_seconds(DAY_SAMPLE),
            "input_series": [
                _series(
                    naming.error_events(self.slo.base),
                    self.series_labels,
                    " ".join(str(e) for e in errors),
                ),
                _series(
                    naming.total_events(self.slo.base),
                    self.series_labels,
                    " ".join(str(t) for t in totals),
                ),
            ],
            "promql_expr_test": [
                {
                    "expr": self._ratio(self.slo.period),
                    "eval_time": at,
                    "exp_samples": [
                        {
                            "labels": naming.sli_error_ratio(self.slo.period)
                            + _labels(self.series_labels),
                            "value": expected,
                        }
                    ],
                },
                {
                    "expr": naming.ERROR_BUDGET_REMAINING + _labels({"slo": self.slo.name}),
                    "eval_time": at,
                    "exp_samples": [
                        {
                            "labels": naming.ERROR_BUDGET_REMAINING + _labels(self.series_labels),
                            "value": 1 - expected / budget,
                        }
                    ],
                },
            ],
        }
        mean = sum(e / t for e, t in zip(errors, totals, strict=True) if t) / sum(
            1 for t in totals if t
        )
        comment = (
            f"{self.slo.name}: the period ratio is total errors / total events ({expected:.6g}) "
            f"under 100x varying traffic, not the mean of ratios ({mean:.6g})"
        )
        return [(comment, test)]

    def all(self) -> list[Test]:
        return [
            *self.tier_tests(),
            *self.outage_test(),
            *self.zero_traffic_test(),
            *self.period_test(),
        ]


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f"{k}={promql.string(v)}" for k, v in labels.items()) + "}"


def _absent_labels(slo: SLO) -> dict[str, str]:
    """Labels absent() copies from equality matchers used exactly once (Prometheus' rule)."""
    s = slo.sli
    match s:
        case Ratio():
            sel: Selector | None = s.total
        case Latency():
            sel = s.histogram
        case Probe():
            sel = s.metric
        case Raw():
            sel = None
    if sel is None:
        return {}
    names = [m.name for m in sel.matchers]
    return {
        m.name: m.value
        for m in sel.matchers
        if m.op == "=" and m.value and names.count(m.name) == 1
    }


def _absent_test(slos: list[_SLOTests], model: Model) -> Test:
    """No series at all: every SLO's absent alert fires (one test, as they all fire together)."""
    at = _ceil_to(rules.ABSENT_FOR + 2 * slos[0].eval, slos[0].eval)
    test = {
        "interval": format_seconds(model.scrape_interval),
        "input_series": [],
        "alert_rule_test": [
            {
                "eval_time": format_seconds(at),
                "alertname": naming.ABSENT_ALERT,
                "exp_alerts": [s.absent_alert() for s in slos],
            }
        ],
        "promql_expr_test": [s.absent_check(at) for s in slos],
    }
    return (f"with no series at all, {naming.ABSENT_ALERT} fires for every SLO after 10m", test)


def suite(model: Model) -> tuple[dict[str, Any], list[Test]]:
    """The header mapping and the commented tests of the promtool test file."""
    owners: dict[str, int] = {}
    for slo in model.slos:
        for metric in _metrics(slo):
            owners[metric] = owners.get(metric, 0) + 1
    tests: list[Test] = []
    for slo in model.slos:
        shared = any(owners[m] > 1 for m in _metrics(slo))
        tests.extend(_SLOTests(model, slo, shared).all())
    if model.slos:
        tests.append(_absent_test([_SLOTests(model, slo, True) for slo in model.slos], model))
    head = {
        "rule_files": [f"../{model.name}.rules.yml"],
        "evaluation_interval": format_seconds(max(MIN_EVAL, model.scrape_interval)),
    }
    return head, tests
