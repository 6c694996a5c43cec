"""Prometheus CPU of the generated rules against Sloth-style rules, side by side in one run.

    python bench/rule_cost.py [--slos 200] [--days 7] [--windows 3] [--baseline main]

1. History: `--days` (+100 min) of 30 s counters for `--slos` ratio SLOs (bench/_traffic.py),
   backfilled with `promtool tsdb create-blocks-from openmetrics`; the recorded series the
   rules read over long windows are backfilled with `promtool tsdb create-blocks-from
   rules`, one pass per level of the chain (base rates, 5m buckets, hourly sums), each
   pass querying a Prometheus that holds the levels below.
2. Exactness: at the end of the history, the period expression of each variant is
   queried over the backfilled data and compared with the exact ratio of the generated
   counters over the same window.
3. CPU: one Prometheus 2.42 per variant, all at once, on copies of that data, scraping
   the same live counters every 30 s: `none` (no rules: scrape and TSDB only), `sloth`
   (Sloth's rule shape, written here: every window `rate(x[W])` over raw series, the
   period the mean of 5m ratios, everything every 30 s), `before` (the `--baseline`
   revision's rules) and `after` (this tree's). User+system CPU of each process from
   /proc, per 30 s, measured over `--windows` windows of 2 minutes (each holds every
   group's evaluations in proportion: four of a 30 s group, one of a 2m group).
Prints median (min-max) and ratios against sloth, raw and net of `none`.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import click
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _promcost import BLOCK, Exposition, Prom, backfill, cpu_per_interval, run, spread
from _traffic import JOB, METRIC, STEP, Traffic

from common.durations import format_seconds
from devstack.servers import wait_until
from rulegen import model as rulegen_model

ROOT = Path(__file__).resolve().parent.parent
SPEC_NAME = "bench"
WINDOW = 120  # a CPU window: four 30 s evaluations, one of each 2m group


def spec_text(slos: int, days: int) -> str:
    head = (
        f"apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {{name: {SPEC_NAME}}}\n"
        f"defaults: {{window: {days}d, scrape_interval: 30s}}\nslos:\n"
    )
    slo = (
        "  - name: s{i:03d}\n    service: svc{i:03d}\n    objective: 99\n    sli:\n"
        "      ratio:\n"
        f'        errors: {METRIC}{{{{app="s{{i:03d}}", code="500"}}}}\n'
        f'        total: {METRIC}{{{{app="s{{i:03d}}"}}}}\n'
    )
    return head + "".join(slo.format(i=i) for i in range(slos))


def render(spec: Path, out: Path, code: Path) -> list[dict[str, object]]:
    """The rule groups `idp-rulegen render` writes, run from the code tree `code`."""
    argv = [sys.executable, "-c", "from rulegen.cli import main; main()"]
    run([*argv, "render", str(spec), "-o", str(out)], cwd=code)
    groups: list[dict[str, object]] = yaml.safe_load(
        (out / "alerts" / f"{SPEC_NAME}.rules.yml").read_text()
    )["groups"]
    return groups


def baseline_tree(rev: str, into: Path) -> Path:
    archive = run(["git", "archive", rev, "rulegen", "common"], cwd=ROOT)
    into.mkdir(parents=True)
    run(["tar", "-x", "-C", str(into)], stdin=archive)
    return into


# ------------------------------------------------------------------------- Sloth-style


def sloth_groups(spec: Path) -> list[dict[str, object]]:
    """Sloth's shape for the same SLOs and windows: ratios of raw rates for every window,
    the period as the mean of 5m ratios, meta recordings and two alerts, all every 30 s."""
    return [g for slo in rulegen_model.load(str(spec)).slos for g in _sloth_slo(slo)]


def _sloth_slo(slo: rulegen_model.SLO) -> list[dict[str, object]]:
    app = f'app="{slo.name}"'
    ids = {"sloth_id": slo.name, "sloth_service": slo.service, "sloth_slo": slo.name}
    sel = f'sloth_id="{slo.name}"'
    period = format_seconds(slo.period)
    sli = []
    for w in (format_seconds(s) for s in sorted({300, *slo.alert_windows()})):
        expr = (
            f'(sum(rate({METRIC}{{{app}, code="500"}}[{w}]))) / (sum(rate({METRIC}{{{app}}}[{w}])))'
        )
        sli.append(
            {
                "record": f"slo:sli_error:ratio_rate{w}",
                "expr": expr,
                "labels": {**ids, "sloth_window": w},
            }
        )
    five = f"slo:sli_error:ratio_rate5m{{{sel}}}[{period}]"
    sli.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": f"sum_over_time({five}) / ignoring (sloth_window) count_over_time({five})",
            "labels": {**ids, "sloth_window": period},
        }
    )
    budget = float(slo.budget)
    meta = [
        ("slo:objective:ratio", f"vector({float(slo.target)})"),
        ("slo:error_budget:ratio", f"vector({budget})"),
        ("slo:time_period:days", f"vector({slo.period // 86400})"),
        ("slo:current_burn_rate:ratio", f"slo:sli_error:ratio_rate5m{{{sel}}} / {budget}"),
        ("slo:period_burn_rate:ratio", f"slo:sli_error:ratio_rate{period}{{{sel}}} / {budget}"),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{{{sel}}}"),
        ("sloth_slo_info", "vector(1)"),
    ]
    t = slo.tiers
    alerts = [
        (name, " or ".join(_sloth_pair(sel, budget, x) for x in tiers))
        for name, tiers in (("SlothPage", t[:2]), ("SlothTicket", t[2:]))
    ]
    return [
        {"name": f"sloth-slo-sli-recordings-{slo.name}", "rules": sli},
        {
            "name": f"sloth-slo-meta-recordings-{slo.name}",
            "rules": [{"record": r, "expr": e, "labels": ids} for r, e in meta],
        },
        {
            "name": f"sloth-slo-alerts-{slo.name}",
            "rules": [{"alert": n, "expr": e, "labels": ids} for n, e in alerts],
        },
    ]


def _sloth_pair(sel: str, budget: float, tier: rulegen_model.Tier) -> str:
    thr = float(tier.factor) * budget
    long, short = format_seconds(tier.long), format_seconds(tier.short)
    return (
        f"(slo:sli_error:ratio_rate{long}{{{sel}}} > {thr} and "
        f"slo:sli_error:ratio_rate{short}{{{sel}}} > {thr})"
    )


# ------------------------------------------------------------------------- Prometheus


def prometheus(name: str, rules: list[dict[str, object]], scrape: int | None = None) -> Prom:
    """A Prometheus evaluating `rules` every 30 s, scraping the live counters on port
    `scrape` if given; no compaction (the source merges its blocks before the copies)."""
    job = (
        f"scrape_configs:\n  - job_name: bench\n    honor_labels: true\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{scrape}']}}]\n"
        if scrape
        else ""
    )
    config = (
        "global: {scrape_interval: 30s, evaluation_interval: 30s}\n"
        f"rule_files: [rules.yml]\n{job}"
    )
    return Prom(name, config, yaml.safe_dump({"groups": rules}), compact=False)


def blocks_loaded(prom: Prom) -> float:
    return sum(v for _, v in prom.metrics("prometheus_tsdb_blocks_loaded"))


# ------------------------------------------------------------------------- backfill


@dataclass
class Series:
    """Samples on a regular grid: values[k] at start + k * step."""

    labels: str  # `name{a="b",...}` in OpenMetrics syntax
    start: int
    step: int
    values: list[float]


def write_blocks(series: list[Series], work: Path, name: str) -> Path:
    """The samples as TSDB blocks in a new directory, one 2h block at a time."""
    out = work / f"{name}-blocks"
    out.mkdir()
    first = min(s.start for s in series) // BLOCK * BLOCK
    last = max(s.start + s.step * (len(s.values) - 1) for s in series)

    def chunk(files: Sequence[TextIO], lo: int, hi: int) -> None:
        write_series(files[0], series, lo, hi)

    backfill([out], chunk, first, last + 1)
    return out


def write_series(f: TextIO, series: list[Series], lo: int, hi: int) -> None:
    """The samples in [lo, hi) as OpenMetrics lines, family by family."""
    for family in sorted({s.labels.split("{")[0] for s in series}):
        f.write(f"# TYPE {family} gauge\n")
        for s in (s for s in series if s.labels.startswith(family + "{")):
            first = max(0, -(-(lo - s.start) // s.step))
            end = min(len(s.values), -(-(hi - s.start) // s.step))
            f.write(
                "".join(
                    f"{s.labels} {s.values[k]!r} {s.start + k * s.step}\n"
                    for k in range(first, end)
                )
            )


def history(traffic: Traffic, until: int) -> list[Series]:
    n = (until - traffic.start) // STEP + 1
    return [
        Series(
            f'{METRIC}{{{JOB},app="s{slo:03d}",code="{code}"}}',
            traffic.start,
            STEP,
            traffic.counters[code][slo, :n].tolist(),
        )
        for slo in range(traffic.slos)
        for code in ("200", "500")
    ]


def add_blocks(prom: Prom, blocks: Path) -> None:
    prom.data.mkdir(parents=True, exist_ok=True)
    for block in blocks.iterdir():
        if (block / "meta.json").exists():
            shutil.move(str(block), prom.data / block.name)


def recorded(
    src: Prom,
    expr: str,
    name: str,
    labels: dict[str, dict[str, str]],
    key: str,
    span: tuple[int, int],
    step: int,
) -> list[Series]:
    """What a recording rule would have written at start, start+step, ... : `expr` as a
    range query over the history, named `name`, labelled by `labels[<its key label>]`."""
    start, end = span
    found: dict[str, dict[int, float]] = {}
    chunk = 10_000 * step  # Prometheus answers at most 11,000 points per series
    for frm in range(start, end + 1, chunk):
        to = min(end, frm + chunk - step)
        for r in src.query_range(expr, frm, to, step):
            key_value = r["metric"][key]  # type: ignore[index]
            found.setdefault(key_value, {}).update(
                {int(float(t)): float(v) for t, v in r["values"]}  # type: ignore[attr-defined]
            )
    out = []
    for key_value, points in found.items():
        lab = ",".join(f'{k}="{v}"' for k, v in labels[key_value].items())
        out += runs(f"{name}{{{lab}}}", points, step)
    return out


def runs(labels: str, points: dict[int, float], step: int) -> list[Series]:
    """Points as gap-free runs: a step with no value (no data yet) stays absent, as for a
    rule that returned nothing."""
    out: list[Series] = []
    for t in sorted(points):
        last = out[-1] if out else None
        if last is not None and t == last.start + step * len(last.values):
            last.values.append(points[t])
        else:
            out.append(Series(labels, t, step, [points[t]]))
    return out


def reload_with(src: Prom, series: list[Series], work: Path, name: str) -> None:
    blocks = write_blocks(series, work, name)
    src.stop()
    add_blocks(src, blocks)
    src.start()


# ------------------------------------------------------------------------- figures


def period_expr(groups: list[dict[str, object]], record: str, identity: str) -> str:
    """The first SLO's rule for `record`, its identity matcher dropped: every SLO at once."""
    expr = next(
        str(r["expr"])
        for g in groups
        for r in g["rules"]  # type: ignore[attr-defined]
        if r.get("record") == record
    )
    return re.sub(rf'{identity}="s000"(, )?', "", expr)


def errors_vs_exact(
    results: list[dict[str, object]], label: str, traffic: Traffic, span: int
) -> list[float]:
    """Relative error (%) of each SLO's period ratio against the exact one of its window."""
    out = []
    for r in results:
        slo = int(str(r["metric"][label])[1:])  # type: ignore[index]
        at, value = r["value"]  # type: ignore[misc]
        exact = traffic.exact_ratio(slo, float(at) - span, float(at))
        out.append(abs(float(value) / exact - 1) * 100)
    return out


# ------------------------------------------------------------------------- the run


@dataclass
class Variant:
    name: str
    rules: list[dict[str, object]]
    period: str  # the period expression for every SLO
    label: str  # the label naming the SLO in its results


def prepare(src: Prom, work: Path, traffic: Traffic, variants: list[Variant], end: int) -> None:
    """History, every level of recordings, compacted into `src`: the data each variant
    starts from."""
    t = time.monotonic()
    add_blocks(src, write_blocks(history(traffic, end), work, "raw"))
    src.start()
    print(f"  history backfilled in {time.monotonic() - t:.0f}s", flush=True)
    after = next(v for v in variants if v.name == "after")
    labels = {f"s{i:03d}": slo_labels(after.rules, f"s{i:03d}") for i in range(traffic.slos)}
    sloth = {
        k: {"sloth_id": k, "sloth_service": v["service"], "sloth_slo": k, "sloth_window": "5m"}
        for k, v in labels.items()
    }
    span = (traffic.start, end)  # the raw series' app label is the SLO's name
    raw = f'max without (instance, pod) (rate({METRIC}{{code="500"}}[5m]))'
    tot = f"max without (instance, pod) (rate({METRIC}[5m]))"
    levels = [
        [
            *recorded(
                src,
                f"sum by (app) ({raw})",
                "slo:sli_error_events:rate5m",
                labels,
                "app",
                span,
                STEP,
            ),
            *recorded(
                src,
                f"sum by (app) ({tot})",
                "slo:sli_total_events:rate5m",
                labels,
                "app",
                span,
                STEP,
            ),
            *recorded(
                src,
                f"sum by (app) ({raw}) / sum by (app) ({tot})",
                "slo:sli_error:ratio_rate5m",
                sloth,
                "app",
                span,
                STEP,
            ),
        ],
    ]
    t = time.monotonic()
    reload_with(src, levels[0], work, "level0")
    print(f"  base recordings backfilled in {time.monotonic() - t:.0f}s", flush=True)
    for record, step in (("rate5m_sum5m", 300), ("rate5m_sum1h", 3600)):
        t = time.monotonic()
        series = []
        for kind in ("error", "total"):
            name = f"slo:sli_{kind}_events:{record}"
            expr = period_expr(after.rules, name, "slo")
            series += recorded(src, expr, name, labels, "slo", span, step)
        reload_with(src, series, work, record)
        print(f"  {record} backfilled in {time.monotonic() - t:.0f}s", flush=True)
    src.stop()
    src.compact = True
    src.start()
    before, t = blocks_loaded(src), time.monotonic()
    limit = 4 * (traffic.steps * STEP // 86400 + 2)  # a few blocks a day, far from 12 a day
    wait_until(lambda: blocks_loaded(src) <= limit, 600, "compaction", interval=5)
    after_ = blocks_loaded(src)
    print(f"  compacted {before:.0f} blocks into {after_:.0f} in {time.monotonic() - t:.0f}s")


def slo_labels(groups: list[dict[str, object]], slo: str) -> dict[str, str]:
    rule = next(
        r
        for g in groups
        for r in g["rules"]  # type: ignore[attr-defined]
        if r.get("record") == "slo:sli_error_events:rate5m" and r["labels"]["slo"] == slo
    )
    return dict(rule["labels"])


def exactness(src: Prom, variants: list[Variant], traffic: Traffic, at: int, span: int) -> None:
    print("period ratio at the end of the history vs exact (relative error, median (min-max)):")
    for v in variants:
        if not v.period:
            continue
        errors = errors_vs_exact(src.query_at(v.period, at), v.label, traffic, span)
        print(f"  {v.name:7} {spread(errors, unit=' %')} over {len(errors)} SLOs", flush=True)


def measure(
    src: Prom, variants: list[Variant], traffic: Traffic, windows: int, span: int
) -> dict[str, list[float]]:
    """CPU seconds per 30 s of each variant's Prometheus, over `windows` 2m windows."""
    feed = Exposition(lambda _: traffic.exposition(time.time()))
    proms = []
    for v in variants:
        prom = prometheus(v.name, v.rules, scrape=feed.port)
        shutil.copytree(
            src.data, prom.data, ignore=shutil.ignore_patterns("lock"), dirs_exist_ok=True
        )
        proms.append(prom)
    try:
        for prom in proms:
            prom.start()
        # Warm up: every group has run, and the block loading at start is over.
        first = time.monotonic() + WINDOW
        wait_until(lambda: time.monotonic() >= first, 2 * WINDOW, "warm-up", interval=1)
        cpu = cpu_per_interval(proms, STEP, WINDOW, windows)
        live_exactness(proms, variants, traffic, span)
        rule_seconds(proms)
        return cpu
    finally:
        for prom in proms:
            prom.destroy()
        feed.close()


def live_exactness(proms: list[Prom], variants: list[Variant], traffic: Traffic, span: int) -> None:
    print("live period series vs exact at its timestamp (history gap and backfill seam included):")
    for prom, v in zip(proms, variants, strict=True):
        if not v.period:
            continue
        record = f"slo:sli_error:ratio_rate{format_seconds(span)}"
        results = prom.query(record)
        stamped = prom.query(f"timestamp({record})")
        at = {str(r["metric"].get(v.label)): r["value"][1] for r in stamped}  # type: ignore[index,union-attr]
        for r in results:
            r["value"] = [float(at[str(r["metric"][v.label])]), r["value"][1]]  # type: ignore[index]
        print(f"  {v.name:7} {spread(errors_vs_exact(results, v.label, traffic, span), unit=' %')}")


def rule_seconds(proms: list[Prom]) -> None:
    """Prometheus' own view (/api/v1/rules): each rule's last evaluation time, per 30 s of
    its group's interval, summed by rule name over the SLOs."""
    print("rule evaluation time per 30 s, by rule (Prometheus' evaluationTime):")
    for p in proms:
        groups = httpx.get(f"{p.url}/api/v1/rules", timeout=30).json()["data"]["groups"]
        by_name: dict[str, float] = {}
        for g in groups:
            for r in g["rules"]:
                key = r["name"]
                by_name[key] = by_name.get(key, 0) + r["evaluationTime"] * STEP / g["interval"]
        total = sum(by_name.values())
        top = sorted(by_name.items(), key=lambda kv: -kv[1])[:6]
        print(f"  {p.name:7} {total:.3f} s: " + ", ".join(f"{k} {v:.3f}" for k, v in top))


@click.command()
@click.option("--slos", default=200, show_default=True)
@click.option("--days", default=7, show_default=True, help="the SLO period and the history")
@click.option("--windows", default=3, show_default=True, help="2-minute CPU windows")
@click.option("--baseline", default="main", show_default=True, help="git revision for `before`")
def main(slos: int, days: int, windows: int, baseline: str) -> None:
    period = days * 86400
    end = int(time.time()) // STEP * STEP
    start = end - period - 100 * 60  # the hourly sums end 40 min before `end`
    traffic = Traffic(slos, start, (end - start) // STEP + 3 * 3600 // STEP)
    with tempfile.TemporaryDirectory(prefix="rule-cost-") as tmp:
        work = Path(tmp)
        spec = work / "spec.yaml"
        spec.write_text(spec_text(slos, days))
        after = render(spec, work / "after", ROOT)
        before = render(spec, work / "before", baseline_tree(baseline, work / "base"))
        sloth = sloth_groups(spec)
        record = f"slo:sli_error:ratio_rate{format_seconds(period)}"
        variants = [
            Variant("none", [], "", ""),
            Variant("sloth", sloth, period_expr(sloth, record, "sloth_id"), "sloth_slo"),
            Variant("before", before, period_expr(before, record, "slo"), "slo"),
            Variant("after", after, period_expr(after, record, "slo"), "slo"),
        ]
        print(f"{slos} SLOs, {days}d period, {traffic.steps} steps of 30 s", flush=True)
        src = prometheus("source", [])
        try:
            prepare(src, work, traffic, variants, end)
            exactness(src, variants, traffic, end, period)
            src.stop()
            cpu = measure(src, variants, traffic, windows, period)
        finally:
            src.destroy()
    report(cpu, windows)


def report(cpu: dict[str, list[float]], windows: int) -> None:
    print(f"Prometheus CPU (user+sys) per 30 s, {windows} windows of 2m, median (min-max),")
    print(f"load average {os.getloadavg()[0]:.1f}:")
    floor = statistics.median(cpu["none"])
    sloth = statistics.median(cpu["sloth"])
    for name, values in cpu.items():
        med = statistics.median(values)
        ratio = f"{med / sloth:.2f}x sloth, rules alone {(med - floor) / (sloth - floor):.2f}x"
        print(f"  {name:7} {spread(values, unit=' s')}  {ratio}")


if __name__ == "__main__":
    main()
