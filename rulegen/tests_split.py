"""Pure: model -> promtool unit tests for the split-mode rule files (topology.mode: split).

The cluster file (`alerts/tests/<spec>.cluster.test.yml`), per SLO whose inputs can be
synthesised: raw series at a constant error ratio -> the two base recordings, with that
ratio and the SLO's labels but no cluster label (the cluster's external label adds it on
the way out); with no series at all, SLOMetricAbsent fires. Threshold alerts have their
hand-written tests.

The global file (`alerts/tests/<spec>.global.test.yml`) reads only the base recordings,
so its input series are those recordings, labelled with each listed cluster. Single mode's
builders (tests_gen) make its tiers, zero-traffic, period and outage tests, fed through
the input hooks this module overrides (one set of recordings per cluster):
- each tier fires just above its threshold and stays silent just below;
- traffic stopping everywhere leaves no NaN and a finite budget; the period is traffic-
  weighted over a day of clusters an hour apart; a full outage pages in time;
- scope global: a quiet cluster at 100 % errors beside busy ones at 0 % gives every window
  the ratio errors / events summed over clusters, not the mean of the clusters' ratios;
- scope cluster: one series per cluster, and only the burning cluster's alerts fire;
- one listed cluster missing: SLOClusterMissing fires for it, and every global SLO's
  ratios are absent (a partial sum would look healthier, silently), not lower.
Inputs are spaced at the evaluation interval: they are recordings, not scrapes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

from common.durations import format_seconds
from rulegen import naming, promql, rules_split
from rulegen.model import SLO, Model, Tier
from rulegen.sli.feed import InputSeries, braces, num
from rulegen.tests_gen import (
    TOLERANCE,
    AlertCheck,
    Check,
    ExpAlert,
    ExprCheck,
    PromtoolTest,
    Sample,
    TestFile,
    _absent_test,
    _ceil_to,
    _round3,
    _SLOTests,
    evaluation_interval,
    merge,
    promtool_file,
)

Suite = TestFile

# Neither 0 nor 1, so a base recording that swapped errors and totals would show.
CLUSTER_RATIO = Decimal("0.25")
QUIET, BUSY = 1, 100  # events/s of the quiet cluster and of each busy one
DAY_OFFSET = 1  # samples between one cluster's day and the next one's


# ----------------------------------------------------------------------------- cluster


class _ClusterSLOTests(_SLOTests):
    def base_test(self) -> list[PromtoolTest]:
        """Raw series at a constant error ratio: the base recordings hold that ratio."""
        if self.feed is None:  # raw PromQL: its inputs are the user's, not ours to invent
            return []
        at = _ceil_to(self.slo.base + 2 * self.eval, self.eval)
        errors, totals = (
            name + self.slo_matcher
            for name in (naming.error_events(self.slo.base), naming.total_events(self.slo.base))
        )
        r = num(CLUSTER_RATIO)
        check = ExprCheck(
            f"abs({errors} / {totals} - {r}) < bool {r} * {TOLERANCE}",
            at,
            (Sample(self.series_braces, 1),),
        )
        comment = (
            f"{self.slo.name}: raw series at an error ratio of {CLUSTER_RATIO} give base "
            "recordings of that ratio, labelled by the SLO and never by the cluster"
        )
        inputs = tuple(self.feed.series([(self._samples(at), CLUSTER_RATIO)]))
        return [self._test(comment, self.scrape, inputs, (check,))]


def suite_cluster(model: Model) -> Suite:
    """The header mapping and the commented tests of the cluster file's promtool tests."""
    step = evaluation_interval(model.scrape_interval)
    per_slo = [_ClusterSLOTests(model, slo, True, step) for slo in model.slos]
    tests = merge([t for s in per_slo for t in s.base_test()])
    if per_slo:
        tests.append(_absent_test(list(per_slo), model))
    step = evaluation_interval(model.scrape_interval)
    return promtool_file(naming.cluster_rules_file(model.name), step, tests)


# ----------------------------------------------------------------------------- global


class _GlobalSLOTests(_SLOTests):
    """An SLO of the global file: its inputs are base recordings, one set per cluster."""

    def __init__(self, model: Model, slo: SLO) -> None:
        # Its inputs are its own recordings, selected by slo and slo_spec: never shared.
        super().__init__(
            model, slo, shares_metrics=False, step=evaluation_interval(model.scrape_interval)
        )
        self.scrape = self.eval  # recordings arrive once per evaluation, not per scrape
        self.label = model.topology.cluster_label
        self.clusters = slo.clusters or model.topology.clusters  # those that measure it
        self.per_cluster = slo.scope == "cluster"
        # series_labels stay without the cluster: each input adds its own.
        if self.per_cluster:  # the burning cluster's alerts, and only its alerts
            self.group = {**self.group, self.label: self.clusters[0]}
        self.feed = None  # never raw series: the builders feed base recordings instead
        self.day_sample = self.eval  # one recording per evaluation, each summed once

    # -- the input strategy (tests_gen): one set of base recordings per cluster ----------

    def _input_labels(self) -> list[dict[str, str]]:
        return [self._cluster_labels(c) for c in self.clusters]

    def _output_of(self, labels: dict[str, str]) -> str:
        return braces(labels) if self.per_cluster else self.series_braces

    def _day(
        self, errors: tuple[float, ...], totals: tuple[int, ...]
    ) -> list[tuple[dict[str, str], tuple[float, ...], tuple[int, ...]]]:
        """Each cluster its own day, the next one DAY_OFFSET samples later (the next time
        zone), so the summed traffic still varies ~100x and each night incident is at
        low traffic everywhere. Then a sample of no traffic:
        promtool evaluates groups in random order, so at the last step the period may or
        may not see that step's global sums; with nothing in them, the sum is the same."""
        out = []
        for i, cluster in enumerate(self.clusters):
            shift = (len(totals) - i * DAY_OFFSET) % len(totals)
            out.append(
                (
                    self._cluster_labels(cluster),
                    (*errors[shift:], *errors[:shift], 0),
                    (*totals[shift:], *totals[:shift], 0),
                )
            )
        return out

    def _chained(self, tier: Tier) -> bool:
        return True  # every global window sums the clusters' base recordings

    def _outage_inputs(self, warm: int, check: int) -> tuple[InputSeries, ...]:
        """1 event/s everywhere; from `warm` every event fails in the burning clusters,
        their base recordings (5m rates) ramping to 1 over a base window as a rate does."""
        burning = self.clusters[:1] if self.per_cluster else self.clusters
        ramp = math.ceil(self.slo.base / self.eval)  # steps until the base window is all bad
        step = _round3(Decimal(1) / ramp)
        rest = (check - warm) // self.eval - ramp
        outage = f"0x{warm // self.eval} {num(step)}+{num(step)}x{ramp - 2} 1x{rest}"
        totals = f"1x{check // self.eval}"
        out: list[InputSeries] = []
        for c in self.clusters:
            out += self._base_series(
                c, outage if c in burning else f"0x{check // self.eval}", totals
            )
        return tuple(out)

    def _zero_traffic_checks(self, at: int, ratio: Decimal) -> tuple[Check, ...]:
        """The budget left stays finite too: it is what the global dashboards show."""
        remaining = naming.ERROR_BUDGET_REMAINING
        left = 1 - float(ratio) / float(promql.number(self.slo.budget))
        return (
            ExprCheck(
                f"abs({remaining}{self.slo_matcher} - {left!r}) < bool {left!r} * {TOLERANCE}",
                at,
                tuple(Sample(out, 1) for out in self._outputs()),
            ),
        )

    def period_test(self) -> list[PromtoolTest]:
        if len(self.clusters) < 2:
            return super().period_test()
        note = f", over {len(self.clusters)} clusters whose days start {DAY_OFFSET} sample apart"
        return [replace(t, comment=t.comment + note) for t in super().period_test()]

    def settled_at(self) -> int:
        """Constant recordings give every window its value at once: only `for` and the
        steps from base recording to window to alert remain."""
        longest_for = max((t.for_ or 0 for t in self.slo.tiers), default=0)
        return _ceil_to(longest_for + 3 * self.eval, self.eval)

    def _touched(self) -> frozenset[str]:
        return frozenset({f"slo {self.slo.name}"})

    def _cluster_labels(self, cluster: str) -> dict[str, str]:
        return {**self.series_labels, self.label: cluster}

    def _base_series(self, cluster: str, errors: str, totals: str) -> tuple[InputSeries, ...]:
        labels = braces(self._cluster_labels(cluster))
        return (
            InputSeries(naming.error_events(self.slo.base) + labels, errors),
            InputSeries(naming.total_events(self.slo.base) + labels, totals),
        )

    def _constant(
        self, rates: dict[str, tuple[Decimal, int]], samples: int
    ) -> tuple[InputSeries, ...]:
        """Each cluster's (error ratio, events/s), constant for `samples` samples."""
        out: list[InputSeries] = []
        for cluster, (ratio, events) in rates.items():
            n = samples - 1
            out += self._base_series(cluster, f"{num(ratio * events)}x{n}", f"{events}x{n}")
        return tuple(out)

    def _constant_inputs(self, ratio: Decimal, samples: int) -> tuple[InputSeries, ...]:
        """Scope global: every cluster at `ratio`; scope cluster: the first one only."""
        burning = self.clusters[:1] if self.per_cluster else self.clusters
        rates = {c: (ratio if c in burning else Decimal(0), 1) for c in self.clusters}
        return self._constant(rates, samples)

    def spread_test(self) -> list[PromtoolTest]:
        """A quiet cluster failing every event beside busy ones failing none."""
        if len(self.clusters) < 2:
            return []
        quiet, *busy = self.clusters
        at = _ceil_to(3 * self.eval, self.eval)
        rates = {quiet: (Decimal(1), QUIET), **{c: (Decimal(0), BUSY) for c in busy}}
        inputs = self._constant(rates, self._samples(at))
        if self.per_cluster:
            checks = self._each_cluster(at, quiet)
            comment = (
                f"{self.slo.name}: scope cluster: one ratio per cluster, {quiet} at 1 and "
                f"{', '.join(busy)} at 0, in every window"
            )
        else:
            expected = QUIET / (QUIET + BUSY * len(busy))
            checks = self._summed(at, expected)
            comment = (
                f"{self.slo.name}: {quiet} fails all of its {QUIET}/s, {', '.join(busy)} none "
                f"of {BUSY}/s each: every window is {expected:.6g} (errors / events over all "
                f"clusters), not the mean of their ratios ({1 / len(self.clusters):.6g})"
            )
        return [self._test(comment, self.eval, inputs, checks)]

    def _each_cluster(self, at: int, failing: str) -> tuple[Check, ...]:
        """Every window: one series per cluster, 1 for `failing`, 0 for the others."""
        return tuple(
            ExprCheck(
                self._ratio(w),
                at,
                tuple(
                    Sample(
                        naming.sli_error_ratio(w) + braces(self._cluster_labels(c)),
                        1 if c == failing else 0,
                    )
                    for c in self.clusters
                ),
            )
            for w in self.slo.windows()
        )

    def _summed(self, at: int, expected: float) -> tuple[Check, ...]:
        """Every window: one series, `expected` (within float noise)."""
        e = repr(expected)
        return tuple(
            ExprCheck(
                f"abs({self._ratio(w)} - {e}) < bool {e} * {TOLERANCE}",
                at,
                (Sample(self.series_braces, 1),),
            )
            for w in self.slo.windows()
        )


def _missing_test(slos: list[_GlobalSLOTests], model: Model) -> PromtoolTest:
    """The last listed cluster sends nothing: it is named missing, global SLOs go absent."""
    label, clusters = model.topology.cluster_label, model.topology.clusters
    missing, present = clusters[-1], clusters[:-1]
    alert = rules_split.cluster_missing(model)
    eval_ = slos[0].eval
    at = _ceil_to((alert.for_ or 0) + 2 * eval_, eval_)
    inputs = tuple(
        series
        for s in slos
        for series in s._constant(
            {c: (Decimal(0), 1) for c in s.clusters if c != missing}, s._samples(at)
        )
    )
    labels = {**dict(alert.labels), label: missing}
    # The annotations as Prometheus renders them for this cluster.
    cluster = f"{{{{ $labels.{label} }}}}"
    annotations = {k: v.replace(cluster, missing) for k, v in alert.annotations}
    series = {"alertname": alert.alert, "alertstate": "firing", **labels}
    query = {"alertname": alert.alert, naming.LABEL_SLO_SPEC: model.name, "alertstate": "firing"}
    checks: list[Check] = [
        AlertCheck(at, alert.alert, (ExpAlert(labels, annotations),)),
        ExprCheck("ALERTS" + braces(query), at, (Sample("ALERTS" + braces(series), 1),)),
    ]
    for s in slos:
        if s.per_cluster:  # the clusters that report keep their own SLO
            samples = tuple(
                Sample(naming.sli_error_ratio(s.slo.base) + braces(s._cluster_labels(c)), 0)
                for c in present
            )
            checks.append(ExprCheck(s._ratio(s.slo.base), at, samples))
        elif missing in s.clusters:
            checks += [ExprCheck(s._ratio(w), at) for w in s.slo.windows()]
        else:  # measured elsewhere only: it does not wait for the missing cluster
            sample = (Sample(naming.sli_error_ratio(s.slo.base) + s.series_braces, 0),)
            checks.append(ExprCheck(s._ratio(s.slo.base), at, sample))
    comment = (
        f"{missing} sends nothing: {alert.alert} fires for it after "
        f"{format_seconds(alert.for_ or 0)}, and every scope-global SLO's ratios are absent, "
        "not computed from the clusters left"
    )
    return PromtoolTest(comment, eval_, inputs, tuple(checks))


def _last_eval(test: PromtoolTest) -> int:
    return max(c.eval_time for c in test.checks)


def suite_global(model: Model) -> tuple[Suite, Suite]:
    """The global file's promtool tests, in two files that `check` runs at once (promtool
    runs a file on one core): the longest test (the packed outages, a ticket SLO's zero
    traffic) alone, and the rest."""
    per_slo = [_GlobalSLOTests(model, slo) for slo in model.slos]
    tier_at = max((s.settled_at() for s in per_slo), default=0)
    tests: list[PromtoolTest] = []
    for s in per_slo:
        s.tier_at = tier_at  # one time for all, so their alert checks can merge
        tests += [*s.settled(), *s.outage_test(), *s.spread_test()]
    # Longest first: every step evaluates the whole file, so the tests that run for hours
    # (outages, a ticket SLO's zero traffic) share one promtool test, the short ride along.
    tests = merge(sorted(tests, key=_last_eval, reverse=True))
    if per_slo:
        tests.append(_missing_test(per_slo, model))
    rule_file, step = (
        naming.global_rules_file(model.name),
        evaluation_interval(model.scrape_interval),
    )
    return promtool_file(rule_file, step, tests[:1]), promtool_file(rule_file, step, tests[1:])
