"""Render 1,000 and 10,000 SLOs in-process; print render time (median, spread) and rule count.

Run: .venv/bin/python bench/rulegen_scale.py   (target: <= 2 s for 1,000 SLOs)
Measures model building (validation included) and bundle rendering (rules + generated
promtool tests, with the self-check parse of every expression); no file I/O.
"""

from __future__ import annotations

import statistics
import time

from rulegen import bundle, rules, spec
from rulegen.model import build
from rulegen.yamlload import Document

REPEATS = 3
KINDS = (
    {
        "ratio": {
            "errors": 'app_errors_total{code=~"5.."}',
            "total": "app_requests_total",
            "group_by": ["cluster"],
        }
    },
    {"latency": {"histogram": 'app_duration_seconds{job="api"}', "threshold": 0.5}},
    {"probe": {"metric": 'app_probe_success{target="x"}'}},
    {
        "raw": {
            "errors": "sum(rate(app_errors_total[$window]))",
            "total": "sum(rate(app_requests_total[$window]))",
        }
    },
)


def _document(n: int) -> Document:
    return Document(
        {
            "apiVersion": "idp-slo/v1",
            "kind": "SLOSpec",
            "metadata": {"name": "bench", "labels": {"team": "platform"}},
            "defaults": {"runbook_url": "https://docs.example.com/runbooks/{runbook}"},
            "slos": [
                {"name": f"slo-{i}", "objective": 99.9, "sli": KINDS[i % len(KINDS)]}
                for i in range(n)
            ],
        }
    )


def _once(doc: Document) -> tuple[float, float, int]:
    start = time.perf_counter()
    model = build(spec.parse(doc, "bench"), doc, "bench")
    built = time.perf_counter()
    bundle.render(model)
    done = time.perf_counter()
    count = sum(len(g.rules) for g in rules.groups(model))
    return built - start, done - start, count


def main() -> None:
    print(f"{'SLOs':>6}  {'rules':>7}  {'model s':>8}  {'total median s':>14}  {'min-max s':>12}")
    for n in (1_000, 10_000):
        doc = _document(n)
        runs = [_once(doc) for _ in range(REPEATS)]
        totals = [r[1] for r in runs]
        print(
            f"{n:>6}  {runs[0][2]:>7}  {statistics.median(r[0] for r in runs):>8.2f}  "
            f"{statistics.median(totals):>14.2f}  {min(totals):>5.2f}-{max(totals):.2f}"
        )


if __name__ == "__main__":
    main()
