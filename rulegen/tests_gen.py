"""Pure: model -> promtool unit tests that prove the generated rules, in two files.

promtool evaluates every rule of a file at every step of every test, so steps are the
cost. alerts/tests/<spec>.test.yml holds the timed tests (the outage, the absent alert:
how soon an alert fires) at the scrape-based step; <spec>.settled.test.yml holds the
tests that assert a state at one time (tiers, zero traffic, the period) at SETTLED_STEP.

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
Assertions on alerts query ALERTS{slo=..., slo_spec=...} so that other SLOs sharing a
metric (or another spec's SLO of the same name) cannot interfere; an alert_rule_test also checks annotations where the SLO's metrics are its own.
Each SLI kind synthesises its own input series (`SLI.feed`); a kind that cannot (raw
PromQL is the user's) is fed the recordings its alerts read instead.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar

from common.durations import format_seconds
from rulegen import naming, promql, rules, windows
from rulegen.model import SLO, Model, Tier
from rulegen.sli.feed import InputSeries, Segment, braces, num

MIN_EVAL = 30


def evaluation_interval(scrape_interval: int) -> int:
    """The test file's step: the scrape interval, within [30s, the slow groups' interval],
    down to a divisor of the 5m bucket.

    promtool evaluates every group at every step, ignoring a group's own interval, and
    alerts read the slow groups' recordings from the step before: a step longer than the
    slow interval (past the 5m lookback at a 10m scrape) would hide them, which real
    Prometheus, evaluating those groups every 2m, never does. A divisor of 5m (so of the
    hour too) makes promtool sum every base sample into the same number of buckets, as
    Prometheus, at the groups' own intervals, sums each into exactly one.
    """
    step = min(max(MIN_EVAL, scrape_interval), windows.SLOW_INTERVAL)
    return max(d for d in range(MIN_EVAL, step + 1) if windows.BUCKET % d == 0)


# The settled tests' step: the longest evaluation_interval() gives. They assert a state at
# one time (alerts, ratios, NaN) from inputs that do not depend on the step, so finer steps
# only repeat the evaluation; the timed tests (how soon an alert fires) keep the fine step.
SETTLED_STEP = evaluation_interval(windows.SLOW_INTERVAL)


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
# Time-based SLIs: one probed series, down half of two samples and a quarter of one.
DAY_DOWN = (0, 0, 0.5, 0.5, 0, 0, 0, 0.25, *([0] * 16))
DAY_SAMPLE = 60  # a 'day' of 24 one-minute samples: sums do not care about scale


# -- the promtool test file schema -------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """An `exp_samples` entry: a series (name and labels) and its value."""

    labels: str
    value: float

    def as_dict(self) -> dict[str, object]:
        return {"labels": self.labels, "value": self.value}


@dataclass(frozen=True)
class ExprCheck:
    """A `promql_expr_test`: the samples `expr` returns at `eval_time` (none: empty)."""

    section: ClassVar[str] = "promql_expr_test"
    expr: str
    eval_time: int  # seconds
    exp_samples: tuple[Sample, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "expr": self.expr,
            "eval_time": format_seconds(self.eval_time),
            "exp_samples": [s.as_dict() for s in self.exp_samples],
        }


@dataclass(frozen=True)
class ExpAlert:
    """An `exp_alerts` entry: one firing instance of the alert, labels and annotations."""

    labels: dict[str, str]
    annotations: dict[str, str]

    def as_dict(self) -> dict[str, object]:
        return {"exp_labels": self.labels, "exp_annotations": self.annotations}


@dataclass(frozen=True)
class AlertCheck:
    """An `alert_rule_test`: the instances of `alertname` firing at `eval_time`."""

    section: ClassVar[str] = "alert_rule_test"
    eval_time: int  # seconds
    alertname: str
    exp_alerts: tuple[ExpAlert, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "eval_time": format_seconds(self.eval_time),
            "alertname": self.alertname,
            "exp_alerts": [a.as_dict() for a in self.exp_alerts],
        }


Check = ExprCheck | AlertCheck


@dataclass(frozen=True)
class PromtoolTest:
    """One entry of `tests:`, with the comment written above it saying what it proves.

    Checks keep the order they are given in; each section is written where its first
    check comes.
    """

    comment: str
    interval: int  # seconds
    input_series: tuple[InputSeries, ...]
    checks: tuple[Check, ...]
    # The metrics whose rules react to the inputs (other tests' inputs must not touch them).
    metrics: frozenset[str] = frozenset()

    @property
    def alert_checks(self) -> frozenset[tuple[int, str]]:
        return frozenset(
            (c.eval_time, c.alertname) for c in self.checks if isinstance(c, AlertCheck)
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "interval": format_seconds(self.interval),
            "input_series": [s.as_dict() for s in self.input_series],
        }
        for check in self.checks:
            out.setdefault(check.section, []).append(check.as_dict())
        return out


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


def _absent_labels(presence: str) -> dict[str, str]:
    """Labels absent() copies from equality matchers used exactly once (Prometheus' rule);
    absent() of anything but a bare selector has none."""
    try:
        sel = promql.selector(presence)
    except ValueError:
        return {}
    names = [m.name for m in sel.matchers]
    return {
        m.name: m.value
        for m in sel.matchers
        if m.op == "=" and m.value and names.count(m.name) == 1
    }


class _SLOTests:
    def __init__(self, model: Model, slo: SLO, shares_metrics: bool, step: int) -> None:
        self.model, self.slo = model, slo
        self.tier_at = 0
        self.scrape = model.scrape_interval
        self.eval = step  # the test file's evaluation_interval
        self.feed = slo.sli.feed()
        self.group = self.feed.group if self.feed else {}
        self.check_annotations = not shares_metrics
        self.identity = {naming.LABEL_SLO: slo.name, naming.LABEL_SLO_SPEC: model.name}
        self.series_labels = {**dict(rules.common_labels(model, slo)), **self.group}
        self.series_braces = braces(self.series_labels)
        self.slo_matcher = braces(self.identity)
        self.thresholds = {t.name: slo.burn(t).threshold for t in slo.tiers}
        self.day_sample = DAY_SAMPLE  # the period test's input spacing

    # -- the input strategy: where the base recordings come from and what they make ----
    # Single mode feeds one set of base recordings (or raw series, where the SLI can
    # synthesise them); the global file (tests_split) feeds one set per cluster.

    def _input_labels(self) -> list[dict[str, str]]:
        """The labels of each set of base recordings the tests feed."""
        return [self.series_labels]

    def _output_of(self, labels: dict[str, str]) -> str:
        """The labels (in braces) of the windows and the period that inputs `labels` make."""
        return braces(labels)

    def _outputs(self) -> list[str]:
        return list(dict.fromkeys(self._output_of(labels) for labels in self._input_labels()))

    def _day(
        self, errors: tuple[float, ...], totals: tuple[int, ...]
    ) -> list[tuple[dict[str, str], tuple[float, ...], tuple[int, ...]]]:
        """Each input's day: (labels, errors per sample, totals per sample)."""
        return [(labels, errors, totals) for labels in self._input_labels()]

    def _chained(self, tier: Tier) -> bool:
        """Whether the tier's long window sums recordings (not raw series)."""
        return rules.window_source(self.slo, tier.long) not in ("base", "raw")

    def _outage_inputs(self, warm: int, check: int) -> tuple[InputSeries, ...] | None:
        """Good traffic until `warm`, then every event failing until `check`; None when
        the SLI cannot synthesise its inputs (raw PromQL)."""
        if self.feed is None:
            return None
        segments: list[Segment] = [
            (self._samples(warm), Decimal(0)),
            ((check - warm) // self.scrape, Decimal(1)),
        ]
        return tuple(self.feed.series(segments))

    def _zero_traffic_checks(self, at: int, ratio: Decimal) -> tuple[Check, ...]:
        """Checks a strategy adds to the zero-traffic test."""
        return ()

    # -- helpers -------------------------------------------------------------------------

    def _samples(self, seconds: int) -> int:
        return seconds // self.scrape + 1

    def _firing(self, tiers: list[Tier]) -> tuple[Sample, ...]:
        return tuple(Sample(self._tier_series[tier.name], 1) for tier in tiers)

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
        return "ALERTS" + braces(alert)

    def _alerts_query(self, tier: Tier | None = None, name: str | None = None) -> str:
        matchers = {
            "alertname": name or self.slo.alert_name,
            **self.identity,
            "alertstate": "firing",
        }
        if tier is not None:
            matchers |= {
                naming.LABEL_LONG_WINDOW: format_seconds(tier.long),
                naming.LABEL_SHORT_WINDOW: format_seconds(tier.short),
            }
        return "ALERTS" + braces(matchers)

    def _constant_inputs(self, ratio: Decimal, samples: int) -> tuple[InputSeries, ...]:
        if self.feed is not None:
            return tuple(self.feed.series([(samples, ratio)]))
        # No synthesisable inputs: feed the window ratios the alerts read.
        return tuple(
            self._recorded(naming.sli_error_ratio(w), f"{num(ratio)}x{samples - 1}")
            for w in self.slo.alert_windows()
        )

    def _recorded_events(
        self, errors: str, totals: str, labels: dict[str, str] | None = None
    ) -> tuple[InputSeries, ...]:
        """The base-window event recordings, as the longer windows and the period sum them."""
        at = self.series_braces if labels is None else braces(labels)
        return (
            InputSeries(naming.error_events(self.slo.base) + at, errors),
            InputSeries(naming.total_events(self.slo.base) + at, totals),
        )

    def _recorded(self, record: str, values: str) -> InputSeries:
        """A recording rule's series, as the rules label it (spec, SLO and group labels)."""
        return InputSeries(record + self.series_braces, values)

    def _ratio(self, window: int) -> str:
        return naming.sli_error_ratio(window) + self.slo_matcher

    def _test(
        self,
        comment: str,
        interval: int,
        inputs: tuple[InputSeries, ...],
        checks: tuple[Check, ...],
    ) -> PromtoolTest:
        return PromtoolTest(comment, interval, inputs, checks, self._touched())

    def _touched(self) -> frozenset[str]:
        """What the inputs reach: the SLO's own token keeps two of its tests apart even
        where it reads no metric."""
        return self.slo.sli.metrics() | {f"slo {self.slo.name}"}

    def settled_at(self) -> int:
        """When a constant error ratio has filled the base window and every `for` is over."""
        longest_for = max((t.for_ or 0 for t in self.slo.tiers), default=0)
        return _ceil_to(self.slo.base + longest_for + 2 * self.eval, self.eval)

    # -- tests ---------------------------------------------------------------------------

    def tier_tests(self) -> list[PromtoolTest]:
        tiers = list(self.slo.tiers)
        if not tiers:
            return []
        at = max(self.tier_at, self.settled_at())
        out = []
        for tier in tiers:
            threshold = self.thresholds[tier.name]
            out += [
                self._tier_test(tier, _above(threshold), at, fires=True),
                self._tier_test(tier, _below(threshold), at, fires=False),
            ]
        return out

    def _tier_test(self, tier: Tier, ratio: Decimal, at: int, fires: bool) -> PromtoolTest:
        """A constant error ratio just above (or below) the tier's threshold, and every
        tier whose threshold is lower firing with it."""
        threshold = self.thresholds[tier.name]
        firing = [t for t in self.slo.tiers if self.thresholds[t.name] < ratio]
        checks: list[Check] = [ExprCheck(self._alerts_query(), at, self._firing(firing))]
        if self.check_annotations:  # also below: lower tiers fire, or none (all checked)
            checks.append(AlertCheck(at, self.slo.alert_name, self._exp_alerts(firing, ratio)))
        label = "above" if fires else "below"
        comment = (
            f"{self.slo.name}: tier {tier.name} {'fires' if fires else 'stays silent'} "
            f"at an error ratio of {ratio} ({label} its threshold {promql.number(threshold)})"
        )
        return self._test(
            comment, self.scrape, self._constant_inputs(ratio, self._samples(at)), tuple(checks)
        )

    def _exp_alerts(self, tiers: list[Tier], ratio: Decimal) -> tuple[ExpAlert, ...]:
        out = []
        for tier in tiers:
            alert = rules.burn_alert(self.model, self.slo, tier)
            annotations = dict(alert.annotations)
            annotations["description"] = rules.burn_description(
                self.slo, tier, _humanize_percentage(ratio), self.slo.description
            )
            out.append(ExpAlert({**self.group, **dict(alert.labels)}, annotations))
        return tuple(out)

    def outage_test(self) -> list[PromtoolTest]:
        pages = [t for t in self.slo.tiers if t.alert == "page"]
        if not pages:
            return []
        tier = min(pages, key=lambda t: self.slo.burn(t).detection_seconds)
        # A summed window smooths by the base window, and by a 5m bucket if it sums those.
        bucketed = rules.window_source(self.slo, tier.long) not in ("base", "raw")
        smooth = self.slo.base + windows.BUCKET * bucketed if self._chained(tier) else 0
        warm = _ceil_to(tier.long + smooth, self.scrape)
        detect = float(self.slo.burn(tier).detection_seconds)
        slack = (tier.for_ or 0) + 2 * self.eval + 2 * self.scrape + smooth
        check = warm + _ceil_to(detect + slack, self.eval)
        inputs = self._outage_inputs(warm, check)
        if inputs is None:
            return []
        comment = (
            f"{self.slo.name}: a full outage fires tier {tier.name} within its detection time "
            f"{detect:.1f}s plus {slack}s of evaluation slack"
        )
        checks = (
            ExprCheck(self._alerts_query(tier), warm),
            ExprCheck(self._alerts_query(tier), check, self._firing([tier])),
        )
        return [self._test(comment, self.scrape, inputs, checks)]

    def zero_traffic_test(self) -> list[PromtoolTest]:
        thresholds = list(self.thresholds.values()) or [self.slo.budget]
        ratio = _round3(min(thresholds) / 2)
        shortest = min(self.slo.alert_windows(), default=self.slo.base)
        busy = _ceil_to(max(2 * self.slo.base, 600), self.scrape)
        # The shortest alert window wholly quiet, with a base window to spare: where 0/0
        # would be NaN. Longer waits add eval steps, not proof (every window is built alike).
        quiet = max(self.slo.base, shortest) + self.slo.base
        at = _ceil_to(busy + quiet, self.eval)  # at a step: between two, the last is read
        busy_n, quiet_n = self._samples(busy), math.ceil((at - busy) / self.scrape)
        if self.feed is not None:
            inputs = tuple(self.feed.series([(busy_n, ratio), (quiet_n, None)]))
        else:
            errors = f"{num(ratio)}x{busy_n - 1} 0x{quiet_n - 1}"
            totals = f"1x{busy_n - 1} 0x{quiet_n - 1}"
            inputs = tuple(
                s
                for labels in self._input_labels()
                for s in self._recorded_events(errors, totals, labels)
            )
        period = self._ratio(self.slo.period)
        checks = (
            ExprCheck(self._alerts_query(), at),
            ExprCheck(self._ratio(self.slo.base), at),
            *(ExprCheck(f"{self._ratio(w)} != {self._ratio(w)}", at) for w in self.slo.windows()),
            ExprCheck(
                f"abs({period} - {num(ratio)}) < bool {num(ratio)} * {TOLERANCE}",
                at,
                tuple(Sample(out, 1) for out in self._outputs()),
            ),
            *self._zero_traffic_checks(at, ratio),
        )
        comment = (
            f"{self.slo.name}: traffic stops after {format_seconds(busy)} at an error ratio of "
            f"{ratio}; no alert, no NaN, short windows absent, the period keeps {ratio}"
        )
        return [self._test(comment, self.scrape, inputs, checks)]

    @functools.cached_property
    def _absent_labels(self) -> dict[str, str]:
        alert = rules.absent_alert(self.model, self.slo)
        return {**_absent_labels(self.slo.sli.presence(self.slo.base)[0]), **dict(alert.labels)}

    def absent_check(self, at: int) -> ExprCheck:
        labels = {"alertname": naming.ABSENT_ALERT, "alertstate": "firing", **self._absent_labels}
        sample = Sample("ALERTS" + braces(labels), 1)
        return ExprCheck(self._alerts_query(name=naming.ABSENT_ALERT), at, (sample,))

    def absent_alert(self) -> ExpAlert:
        annotations = dict(rules.absent_alert(self.model, self.slo).annotations)
        annotations["description"] = rules.absent_description(self.slo)
        return ExpAlert(self._absent_labels, annotations)

    def period_test(self) -> list[PromtoolTest]:
        """A day of varying traffic: the period ratio weights every event equally."""
        if self.slo.sli.time_based:
            errors: tuple[float, ...] = DAY_DOWN
            totals: tuple[int, ...] = tuple(1 for _ in DAY_DOWN)
        else:
            errors, totals = DAY_ERRORS, DAY_TOTAL
        day = self._day(errors, totals)
        expected, mean = _day_ratios([(self._output_of(labels), e, t) for labels, e, t in day])
        # At an evaluation step (promtool evaluates at multiples of the file's interval):
        # between two, the period would still be the one recorded before the last sample.
        # The period sums hourly sums of 5m buckets: promtool evaluates those groups at
        # every step, so each base sample counts alike once it has passed through both.
        settle = windows.BUCKET + windows.HOURLY
        at = _ceil_to(self.day_sample * (len(day[0][2]) - 1) + settle, self.eval)
        budget = float(promql.number(self.slo.budget))
        remaining = naming.ERROR_BUDGET_REMAINING
        period = naming.sli_error_ratio(self.slo.period)
        checks = (
            ExprCheck(
                self._ratio(self.slo.period),
                at,
                tuple(Sample(period + out, value) for out, value in expected.items()),
            ),
            ExprCheck(
                remaining + self.slo_matcher,
                at,
                tuple(Sample(remaining + out, 1 - v / budget) for out, v in expected.items()),
            ),
        )
        inputs = tuple(
            s
            for labels, e, t in day
            for s in self._recorded_events(
                " ".join(str(x) for x in e), " ".join(str(x) for x in t), labels
            )
        )
        first = next(iter(expected))
        comment = (
            f"{self.slo.name}: the period ratio is total errors / total events "
            f"({expected[first]:.6g}) under 100x varying traffic, not the mean of ratios "
            f"({mean[first]:.6g})"
        )
        return [self._test(comment, self.day_sample, inputs, checks)]

    def settled(self) -> list[PromtoolTest]:
        return [*self.tier_tests(), *self.zero_traffic_test(), *self.period_test()]


def _day_ratios(
    day: list[tuple[str, tuple[float, ...], tuple[int, ...]]],
) -> tuple[dict[str, float], dict[str, float]]:
    """Per output series (the inputs it sums): total errors / total events, and the
    mean over time of each sample's ratio (what a period that is not traffic-weighted
    would show)."""
    outputs: dict[str, list[tuple[tuple[float, ...], tuple[int, ...]]]] = {}
    for out, errors, totals in day:
        outputs.setdefault(out, []).append((errors, totals))
    expected, mean = {}, {}
    for out, inputs in outputs.items():
        summed_errors = [sum(x) for x in zip(*(e for e, _ in inputs), strict=True)]
        summed_totals = [sum(x) for x in zip(*(t for _, t in inputs), strict=True)]
        expected[out] = sum(summed_errors) / sum(summed_totals)
        samples = zip(summed_errors, summed_totals, strict=True)
        ratios = [e / t for e, t in samples if t]
        mean[out] = sum(ratios) / len(ratios)
    return expected, mean


def _mergeable(a: PromtoolTest, b: PromtoolTest) -> bool:
    """Two tests can share one promtool test when neither's inputs reach the other's rules
    and their alert_rule_tests (which see every instance of an alert name) are at the same
    times, each listing what its own inputs fire there."""
    return (
        a.interval == b.interval and not a.metrics & b.metrics and a.alert_checks == b.alert_checks
    )


def _join(a: PromtoolTest, b: PromtoolTest) -> PromtoolTest:
    checks = list(a.checks)
    for check in b.checks:
        if isinstance(check, AlertCheck):
            i = next(
                i
                for i, c in enumerate(checks)
                if isinstance(c, AlertCheck)
                and (c.eval_time, c.alertname) == (check.eval_time, check.alertname)
            )
            mine = checks[i]
            assert isinstance(mine, AlertCheck)
            checks[i] = AlertCheck(
                mine.eval_time, mine.alertname, mine.exp_alerts + check.exp_alerts
            )
        else:
            checks.append(check)
    return PromtoolTest(
        f"{a.comment}\n{b.comment}",
        a.interval,
        a.input_series + b.input_series,
        tuple(checks),
        a.metrics | b.metrics,
    )


def merge(tests: list[PromtoolTest]) -> list[PromtoolTest]:
    """Independent tests packed into as few promtool tests as possible, in order.

    promtool evaluates every rule of the file at every step of every test, and sets up
    each test anew, so five SLOs' page-fast tests cost one test's steps when run as one.
    """
    out: list[PromtoolTest] = []
    for test in tests:
        i = next((i for i, t in enumerate(out) if _mergeable(t, test)), None)
        if i is None:
            out.append(test)
        else:
            out[i] = _join(out[i], test)
    return out


def _absent_test(slos: list[_SLOTests], model: Model) -> PromtoolTest:
    """No series at all: every SLO's absent alert fires (one test, as they all fire together)."""
    at = _ceil_to(rules.ABSENT_FOR + 2 * slos[0].eval, slos[0].eval)
    checks: tuple[Check, ...] = (
        AlertCheck(at, naming.ABSENT_ALERT, tuple(s.absent_alert() for s in slos)),
        *(s.absent_check(at) for s in slos),
    )
    comment = f"with no series at all, {naming.ABSENT_ALERT} fires for every SLO after 10m"
    return PromtoolTest(comment, model.scrape_interval, (), checks)


def _per_slo(model: Model, step: int) -> list[_SLOTests]:
    metrics = {slo.name: slo.sli.metrics() for slo in model.slos}
    owners: dict[str, int] = {}
    for names in metrics.values():
        for metric in names:
            owners[metric] = owners.get(metric, 0) + 1
    return [
        _SLOTests(model, slo, any(owners[m] > 1 for m in metrics[slo.name]), step)
        for slo in model.slos
    ]


# The header mapping and the commented tests of a promtool test file.
TestFile = tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]


def promtool_file(rule_file: str, step: int, tests: list[PromtoolTest]) -> TestFile:
    """A test file in alerts/tests/ loading `rule_file` (a bundle path under alerts/)."""
    head = {
        "rule_files": [f"../{rule_file.removeprefix('alerts/')}"],
        "evaluation_interval": format_seconds(step),
    }
    return head, [(t.comment, t.as_dict()) for t in tests]


def suite(model: Model) -> TestFile:
    """The timed tests (an alert fires within a bound of its cause) at the fine step, for
    alerts/tests/<spec>.test.yml."""
    step = evaluation_interval(model.scrape_interval)
    per_slo = _per_slo(model, step)
    tests = merge([t for s in per_slo for t in s.outage_test()])
    if per_slo:
        tests.append(_absent_test(per_slo, model))
    return promtool_file(naming.rules_file(model.name), step, tests)


def settled_suite(model: Model) -> TestFile:
    """The settled tests (tiers above and below, zero traffic, the period) at SETTLED_STEP,
    for alerts/tests/<spec>.settled.test.yml."""
    step = SETTLED_STEP
    per_slo = _per_slo(model, step)
    tier_at = max((s.settled_at() for s in per_slo), default=0)
    tests: list[PromtoolTest] = []
    for slo_tests in per_slo:
        slo_tests.tier_at = tier_at  # one time for all, so their alert checks can merge
        tests.extend(slo_tests.settled())
    return promtool_file(naming.rules_file(model.name), step, merge(tests))
