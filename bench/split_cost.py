"""Split mode against single mode: what the central Prometheus pays, and what crosses the wire.

    python bench/split_cost.py [--slos 200] [--days 7] [--pods 2] [--windows 3]

One traffic model, three clusters (us-east-1, us-west-1, eu-central-1, traffic 4:2:1),
per SLO and cluster `--pods` pods, each with a code="200" and a code="500" counter
(30 s samples, integer increments; errors vary by SLO, cluster and hour). From it, in
one pass, two histories of `--days` days, backfilled with `promtool tsdb
create-blocks-from openmetrics`:
- single: every raw counter of the three clusters (what a central Prometheus holds when
  every raw series is shipped to it), the single file's base recordings
  (`slo:sli_*_events:rate5m`, summed over the clusters) and the chain over them that its
  long windows and period read (`…:rate5m_sum5m`, 5m buckets; `…:rate5m_sum1h`, hourly);
- split: what each cluster's Prometheus sends, its base recordings with the cluster's
  external label, and the global file's sums of them (`slo:sli_global_*_events:rate5m`)
  with the same chain over those sums, which every window of the global file reads.
The recordings are computed here and written as OpenMetrics, not backfilled with
`promtool tsdb create-blocks-from rules`: at the sample times, a 5m rate of a counter
sampled every 30 s is its increase over the last 5 minutes / 300 s (rate() needs no
extrapolation there), and the chain is what its rules compute on 5m- and 1h-aligned
evaluations (a bucket at t sums the base samples in (t-5m, t], an hour the buckets in
(t-1h, t]), so computing it costs nothing, while the rules backfill would need one
Prometheus per cluster and 7 days of range queries for each of 400 rules, per cluster and
again for the sums and each level of the chain. Before anything runs, the bench checks
that every series the rules read over a range is one it backfills (so a rules change that
reads another recorded series over days fails here, instead of measuring a cheap empty
window).

Then one central Prometheus 2.42 per variant, loading the single rules file or the
global rules file, scraping the live continuation of the same traffic every 30 s (raw
counters, or the clusters' base recordings), plus one per variant with no rules and no
history (ingestion only). After the start-up compaction of the backfilled blocks,
user+system CPU of each process from /proc is measured per 30 s over `--windows`
windows of 2 minutes (each holds four evaluations of the 30 s groups and one of the 2m
groups; the 5m buckets and hourly sums, a small share, fall in some windows only; no
compaction may run meanwhile); `prometheus_rule_group_last_duration_seconds`, scaled to
30 s by each group's interval, is the cross-check, also per kind of group (short,
buckets, hourly, long, slo-clusters). Prints median
(min-max), the ratio split/single, the series and samples/s crossing remote_write, and
how closely the two variants' period error ratios agree (same data, same SLO).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click
import promql_parser as pp
import yaml
from _promcost import (
    BLOCK,
    Exposition,
    Prom,
    backfill,
    compactions,
    cpu_per_interval,
    labels_text,
    rule_seconds,
    settle,
    spread,
)

from rulegen import promql

CLUSTERS = ("us-east-1", "us-west-1", "eu-central-1")
WEIGHT = (4, 2, 1)  # traffic per cluster: a quiet cluster weighs less in a global SLO
STEP = 30  # scrape and evaluation interval, seconds
RATE = 10  # samples in a base recording's 5m window
WINDOW = 120  # a CPU window: every group's evaluations in proportion
METRIC = "bench_requests_total"
SPEC = "bench"
BASE = ("slo:sli_error_events:rate5m", "slo:sli_total_events:rate5m")
GLOBAL_BASE = ("slo:sli_global_error_events:rate5m", "slo:sli_global_total_events:rate5m")
# The chain over a base pair, level by level: its records' suffix and their spacing.
CHAIN = (("_sum5m", 300), ("_sum1h", 3600))
VARIANTS = ("single", "split")
CLI = Path(sys.executable).with_name("idp-rulegen")


def spec_text(slos: int, days: int, split: bool) -> str:
    topology = f"topology: {{mode: split, clusters: [{', '.join(CLUSTERS)}]}}\n" if split else ""
    head = (
        f"apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {{name: {SPEC}}}\n"
        f"defaults: {{window: {days}d, scrape_interval: {STEP}s}}\n{topology}slos:\n"
    )
    slo = (
        "  - name: s{i:03d}\n    service: svc{i:03d}\n    objective: 99\n    sli:\n      ratio:\n"
        f'        errors: {METRIC}{{{{app="s{{i:03d}}", code="500"}}}}\n'
        f'        total: {METRIC}{{{{app="s{{i:03d}}"}}}}\n'
    )
    return head + "".join(slo.format(i=i) for i in range(slos))


def render(text: str, work: Path, split: bool) -> tuple[str, str | None]:
    """The rules file the central Prometheus loads (and, split, the cluster file)."""
    out = work / ("split" if split else "single")
    spec = out.with_suffix(".yml")
    spec.write_text(text)
    subprocess.run([str(CLI), "render", str(spec), "-o", str(out)], check=True, capture_output=True)
    if not split:
        return (out / "alerts" / f"{SPEC}.rules.yml").read_text(), None
    alerts = out / "alerts"
    return (alerts / f"{SPEC}.global.rules.yml").read_text(), (
        alerts / f"{SPEC}.cluster.rules.yml"
    ).read_text()


def groups(rules: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(rules)["groups"]
    return loaded


def record_labels(rules: str, names: Sequence[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(record, slo) -> the labels its rule sets, for the recordings `names`."""
    return {
        (r["record"], r["labels"]["slo"]): r["labels"]
        for g in groups(rules)
        for r in g["rules"]
        if r.get("record") in names
    }


def prefixes(rules: str, names: Sequence[str], slos: Sequence[str]) -> list[tuple[str, ...]]:
    """Per SLO, the exposition prefix (`name{labels} `) of each record in `names`."""
    found = record_labels(rules, names)
    return [tuple(n + labels_text(found[n, s]) + " " for n in names) for s in slos]


def ranged_reads(rules: str) -> set[str]:
    """Every metric a rule reads over a range."""
    out = set()
    stack = [promql.parse(r["expr"]) for g in groups(rules) for r in g["rules"]]
    while stack:
        node = stack.pop()
        if isinstance(node, pp.MatrixSelector) and node.vector_selector.name:
            out.add(node.vector_selector.name)
        stack.extend(promql.children(node))
    return out


def check_history(rules: str, backfilled: Sequence[str], variant: str) -> None:
    unknown = sorted(ranged_reads(rules) - set(backfilled))
    if unknown:
        sys.exit(f"{variant}: the rules read {', '.join(unknown)} over a range; no history of it")


class Traffic:
    """Counters per SLO, cluster, pod and code, advanced one 30 s step at a time; each
    (SLO, cluster) keeps its last ten steps of events, which are its base recordings."""

    def __init__(self, slos: int, pods: int, first_step: int) -> None:
        self.slos, self.pods = slos, pods
        self.keys = [
            (i, k, p) for i in range(slos) for k in range(len(CLUSTERS)) for p in range(pods)
        ]
        self.ok_step = [(1 + (i * 7 + p * 3) % 20) * WEIGHT[k] for i, k, p in self.keys]
        self.ok = [0] * len(self.keys)
        self.err = [0] * len(self.keys)
        cells = slos * len(CLUSTERS)
        self.ring = [[0] * RATE for _ in range(cells)]  # errors per step, last ten steps
        self.errors_5m = [0] * cells
        self.ok_5m = [RATE * sum(self.ok_step[c * pods : (c + 1) * pods]) for c in range(cells)]
        self.step = first_step - RATE  # ten unrecorded steps fill the first 5m window
        while self.step < first_step:
            self.advance()

    def advance(self) -> None:
        n, pods = self.step + 1, self.pods
        hour = n * STEP // 3600
        for c in range(len(self.ring)):
            i, k = divmod(c, len(CLUSTERS))
            every = 3 + (i + k + hour) % 17  # one error in `every` steps per pod
            errors = 0
            for j in range(c * pods, (c + 1) * pods):
                e = 1 if (n + j) % every == 0 else 0
                self.err[j] += e
                self.ok[j] += self.ok_step[j]
                errors += e
            ring = self.ring[c]
            self.errors_5m[c] += errors - ring[n % RATE]
            ring[n % RATE] = errors
        self.step = n

    def rates(self, c: int) -> tuple[float, float]:
        """The base recordings of (SLO, cluster) cell c: errors/s and events/s over 5m."""
        window, errors = RATE * STEP, self.errors_5m[c]
        return errors / window, (errors + self.ok_5m[c]) / window


Pair = tuple[float, float]  # (errors, events) per second


class Chain:
    """The chain over the summed base rates, as its rules define it: the 5m bucket at t
    (a multiple of 5m) sums the base samples in (t-5m, t], the hourly sum at t (a multiple
    of 1h) the buckets in (t-1h, t]. Fed every base sample in time order."""

    def __init__(self, slos: int) -> None:
        self.open = [[[0.0, 0.0] for _ in range(slos)] for _ in CHAIN]  # per level, per SLO

    def add(self, ts: int, base: Sequence[Pair]) -> list[list[Pair]]:
        """Adds the base samples at `ts`; returns, level by level, the sums recorded at
        `ts` (none, the buckets, or the buckets and the hourly sums)."""
        recorded: list[list[Pair]] = []
        below = base
        for (_, every), sums in zip(CHAIN, self.open, strict=True):
            for acc, (e, total) in zip(sums, below, strict=True):
                acc[0] += e
                acc[1] += total
            if ts % every:
                break
            below = [(acc[0], acc[1]) for acc in sums]
            recorded.append(below)
            for acc in sums:
                acc[0] = acc[1] = 0.0
        return recorded


def levels(base: Sequence[str]) -> list[tuple[str, ...]]:
    """The (error, total) records of a base pair and of the chain over it, level by level."""
    return [tuple(base), *(tuple(name + suffix for name in base) for suffix, _ in CHAIN)]


class Lines:
    """The series of both variants as exposition lines (prefix + value [+ timestamp])."""

    def __init__(self, traffic: Traffic, single_rules: str, global_rules: str, cluster_rules: str):
        self.t = traffic
        self.raw = [
            tuple(
                METRIC
                + labels_text(
                    {"app": f"s{i:03d}", "cluster": CLUSTERS[k], "pod": f"p{p}", "code": code}
                )
                + " "
                for code in ("200", "500")
            )
            for i, k, p in traffic.keys
        ]
        local = record_labels(cluster_rules, BASE)
        slos = [f"s{i:03d}" for i in range(traffic.slos)]
        # Per level (base, 5m buckets, hourly sums), per SLO: the (error, total) prefixes.
        self.single = [prefixes(single_rules, names, slos) for names in levels(BASE)]
        self.central = [prefixes(global_rules, names, slos) for names in levels(GLOBAL_BASE)]
        self.chain = Chain(traffic.slos)
        self.local = [
            tuple(n + labels_text({**local[n, s], "cluster": c}) + " " for n in BASE)
            for s in slos
            for c in CLUSTERS
        ]

    def raw_lines(self, out: list[str], end: str) -> None:
        t = self.t
        for (ok, err), a, b in zip(self.raw, t.ok, t.err, strict=True):
            out.append(f"{ok}{a}{end}{err}{b}{end}")

    def cluster_lines(self, out: list[str], end: str) -> None:
        """What each cluster sends: its base recordings, with its external label."""
        t = self.t
        for c, (err_p, tot_p) in enumerate(self.local):
            e, total = t.rates(c)
            out.append(f"{err_p}{e!r}{end}{tot_p}{total!r}{end}")

    def sum_lines(self, single: list[str], central: list[str], ts: int) -> None:
        """The base recordings summed over the clusters, and the chain over them: single
        mode's own (from all raw series) and the global file's (from the clusters'
        recordings) are the same sums."""
        t, k, end = self.t, len(CLUSTERS), f" {ts}\n"
        sums = []
        for i in range(t.slos):
            rates = [t.rates(i * k + c) for c in range(k)]
            sums.append((sum(r[0] for r in rates), sum(r[1] for r in rates)))
        for level, pairs in enumerate([sums, *self.chain.add(ts, sums)]):
            for out, names in ((single, self.single[level]), (central, self.central[level])):
                for (err_p, tot_p), (e, total) in zip(names, pairs, strict=True):
                    out.append(f"{err_p}{e!r}{end}{tot_p}{total!r}{end}")

    def history(self, files: Sequence[TextIO], lo: int, hi: int) -> None:
        """Chunk [lo, hi) of both histories: files[0] single, files[1] split."""
        for ts in range(lo, hi, STEP):
            while self.t.step * STEP < ts:
                self.t.advance()
            end = f" {ts}\n"
            single: list[str] = []
            split: list[str] = []
            self.raw_lines(single, end)
            self.cluster_lines(split, end)
            self.sum_lines(single, split, ts)
            files[0].write("".join(single))
            files[1].write("".join(split))

    def live(self, path: str) -> str:
        """The current step, as each variant's central Prometheus receives it."""
        while (self.t.step + 1) * STEP <= time.time():
            self.t.advance()
        out: list[str] = []
        if path == "single":
            self.raw_lines(out, "\n")
        else:
            self.cluster_lines(out, "\n")
        return "".join(out)


def config(port: int, path: str) -> str:
    """Scrape the live clusters as-is (their `cluster` label kept, no job/instance added,
    like remote_write), evaluate every 30 s."""
    return (
        f"global: {{scrape_interval: {STEP}s, evaluation_interval: {STEP}s}}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        f"  - job_name: clusters\n    honor_labels: true\n    metrics_path: /{path}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        "    metric_relabel_configs: [{action: labeldrop, regex: job|instance}]\n"
    )


def wire(prom: Prom, selector: str) -> tuple[float, float]:
    """Series crossing remote_write (those the central Prometheus receives) and samples/s."""
    series = prom.value(f"count({selector})")
    samples = prom.value("sum(scrape_samples_post_metric_relabeling)") / STEP
    return series, samples


def agreement(single: Prom, split: Prom, record: str) -> list[float]:
    """Relative difference (%) of each SLO's `record` between the two variants."""
    a = {r["metric"]["slo"]: float(r["value"][1]) for r in single.query(record)}  # type: ignore[index]
    b = {r["metric"]["slo"]: float(r["value"][1]) for r in split.query(record)}  # type: ignore[index]
    return [abs(b[s] / a[s] - 1) * 100 for s in a if s in b and a[s] > 0]


def prepare(work: Path, slos: int, days: int, pods: int) -> tuple[Lines, dict[str, str]]:
    """Rules of both variants, checked against what is backfilled, and both histories."""
    single_rules, _ = render(spec_text(slos, days, split=False), work, split=False)
    global_rules, cluster_rules = render(spec_text(slos, days, split=True), work, split=True)
    assert cluster_rules is not None
    check_history(single_rules, [METRIC, *(n for ns in levels(BASE) for n in ns)], "single")
    check_history(global_rules, [n for ns in levels(GLOBAL_BASE) for n in ns], "split")
    end = int(time.time()) // STEP * STEP
    start = (end - days * 86400 - 3600) // BLOCK * BLOCK  # the 1w window full, plus an hour
    lines = Lines(Traffic(slos, pods, start // STEP), single_rules, global_rules, cluster_rules)
    targets = [work / f"{variant}-data" for variant in ("single", "split")]
    for target in targets:
        target.mkdir()
    began = time.monotonic()
    backfill(targets, lines.history, start, end)
    print(
        f"backfilled {(end - start) / 86400:.1f} days in {time.monotonic() - began:.0f} s",
        flush=True,
    )
    return lines, {"single": single_rules, "split": global_rules}


def start(lines: Lines, work: Path, rules: dict[str, str]) -> tuple[Exposition, list[Prom]]:
    """The two central Prometheus, on their histories, and two without rules or history."""
    feed = Exposition(lines.live)
    proms = []
    for name in (*VARIANTS, *(f"{v}-ingest" for v in VARIANTS)):
        source = name.split("-")[0]
        prom = Prom(name, config(feed.port, source), rules.get(name, "groups: []\n"))
        history = work / f"{name}-data"
        if history.exists():
            prom.data.rmdir()
            history.rename(prom.data)
        proms.append(prom)
    for prom in proms:
        prom.start()
    return feed, proms


Figures = dict[str, list[float]]


def group_kind(name: str) -> str:
    """`slo:s000:short` -> short; `slo-clusters:bench` -> slo-clusters."""
    return name.rsplit(":", 1)[1] if name.startswith("slo:") else name.split(":", 1)[0]


def measure(proms: list[Prom], windows: int) -> tuple[Figures, Figures]:
    """CPU per 30 s of every process; rule evaluation seconds per 30 s of the variants,
    in all (key = variant) and per kind of group (key = variant kind)."""
    cpu: Figures = {p.name: [] for p in proms}
    rules: Figures = defaultdict(list)
    for _ in range(windows):
        for name, values in cpu_per_interval(proms, STEP, WINDOW, 1).items():
            cpu[name] += values
        for p in proms[: len(VARIANTS)]:
            kinds: dict[str, float] = defaultdict(float)
            for group, seconds in rule_seconds(p, STEP).items():
                kinds[group_kind(group)] += seconds
            rules[p.name].append(sum(kinds.values()))
            for kind, seconds in kinds.items():
                rules[f"{p.name} {kind}"].append(seconds)
    return cpu, dict(rules)


def period_record(rules: str) -> str:
    """The period's error ratio, which the budget remaining reads."""
    found = re.search(
        r"slo:sli_error:ratio_rate\w+", rules.split("record: slo:error_budget_remaining")[1]
    )
    assert found is not None
    return found.group(0)


def report(proms: list[Prom], cpu: Figures, rules: Figures, rules_text: str) -> None:
    single, split = proms[0], proms[1]
    print("\ncentral Prometheus, CPU seconds per 30 s, median (min-max):")
    for name, values in cpu.items():
        print(f"  {name:14} {spread(values)}")
    net = {v: [a - b for a, b in zip(cpu[v], cpu[f"{v}-ingest"], strict=True)] for v in VARIANTS}
    for label, figures in (
        ("process CPU", cpu),
        ("net of ingestion", net),
        ("rule evaluation", rules),
    ):
        ratios = [b / a for a, b in zip(figures["single"], figures["split"], strict=True)]
        print(f"  split/single, {label}: {spread(ratios, 3)}")
    print("rule evaluation (rule_group_last_duration, wall), seconds per 30 s:")
    for name, values in rules.items():
        print(f"  {name:20} {spread(values)}")
    failures = {
        p.name: sum(v for _, v in p.metrics("prometheus_rule_evaluation_failures_total"))
        for p in (single, split)
    }
    print(f"rule evaluation failures: {failures}")
    s_series, s_samples = wire(single, METRIC)
    g_series, g_samples = wire(split, '{__name__=~"slo:sli_(error|total)_events:rate5m"}')
    print("crossing remote_write (received by the central Prometheus):")
    print(f"  single: {s_series:.0f} series, {s_samples:.1f} samples/s (every raw series)")
    print(f"  split:  {g_series:.0f} series, {g_samples:.1f} samples/s (base recordings)")
    print(f"  split/single: {g_series / s_series:.3f}")
    period = period_record(rules_text)
    diff = agreement(single, split, period)
    print(
        f"{period}, split vs single, relative difference: {spread(diff, 4)} % over {len(diff)} SLOs"
    )


@click.command()
@click.option("--slos", default=200, show_default=True)
@click.option("--days", default=7, show_default=True)
@click.option(
    "--pods", default=2, show_default=True, help="pods per SLO and cluster (2 series each)"
)
@click.option("--windows", default=3, show_default=True, help="2-minute CPU windows")
def main(slos: int, days: int, pods: int, windows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="split-cost-") as tmp:
        lines, rules = prepare(Path(tmp), slos, days, pods)
        feed, proms = start(lines, Path(tmp), rules)
        try:
            began = time.monotonic()
            settle(proms[: len(VARIANTS)])
            print(f"start-up compaction over after {time.monotonic() - began:.0f} s", flush=True)
            before = [compactions(p) for p in proms]
            cpu, rule_s = measure(proms, windows)
            moved = [p.name for p, b in zip(proms, before, strict=True) if compactions(p) != b]
            print(f"compactions while measuring: {moved or 'none'}")
            report(proms, cpu, rule_s, rules["single"])
        finally:
            for prom in proms:
                prom.destroy()
            feed.close()


if __name__ == "__main__":
    main()
