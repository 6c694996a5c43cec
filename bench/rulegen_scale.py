"""Render 1,000 and 10,000 SLOs; print render time (median, spread), rule count and output size.

Run: .venv/bin/python bench/rulegen_scale.py   (target: <= 2 s for 1,000 SLOs)

Two figures per size:
- render: in-process, model building (validation included) plus the whole bundle (rules,
  generated promtool tests, dashboards, Kubernetes objects, lint), no file I/O;
- CLI: `idp-rulegen render SPEC` end to end in a fresh process, as a user runs it:
  interpreter start, imports, spec loading, render and the atomic writes.
Baseline in the same run: the rules file and the PrometheusRule written by PyYAML
(`yaml.dump`, libyaml emitter), which is what idp-rulegen's writer replaced.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from common.yamlsafe import Document
from rulegen import bundle, rules, spec, yamlout
from rulegen.model import build

REPEATS = 3
CLI = Path(sys.executable).with_name("idp-rulegen")
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


def _spec(n: int) -> dict[str, Any]:
    return {
        "apiVersion": "idp-slo/v1",
        "kind": "SLOSpec",
        "metadata": {"name": "bench", "labels": {"team": "platform"}},
        "defaults": {"runbook_url": "https://docs.example.com/runbooks/{runbook}"},
        "slos": [
            {"name": f"slo-{i}", "objective": 99.9, "sli": KINDS[i % len(KINDS)]} for i in range(n)
        ],
    }


def _timed(fn: Callable[[], Any]) -> list[float]:
    out = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}  ({min(values):.2f}-{max(values):.2f})"


def _render(doc: Document) -> dict[str, str]:
    return bundle.render(build(spec.parse(doc, "bench"), doc, "bench"))


def _pyyaml_rules(groups: list[dict[str, Any]]) -> None:
    """The baseline: the two documents that hold every rule, written by PyYAML."""
    for data in ({"groups": groups}, {"spec": {"groups": groups}}):
        yaml.dump(data, Dumper=yamlout._Dumper, sort_keys=False, width=1_000_000)


def _our_rules(groups: list[dict[str, Any]]) -> None:
    """The same two documents as idp-rulegen writes them: groups written once, placed twice."""
    written = yamlout.Rendered(groups)
    for data in ({"groups": written}, {"spec": {"groups": written}}):
        yamlout.dump(data, "")


def _cli(spec_file: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(CLI), "render", str(spec_file), "--output", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)


def _machine() -> None:
    """This machine's speed varies run to run: a fixed pure-Python loop, for scale."""

    def loop() -> None:
        total = 0
        for i in range(5_000_000):
            total += i

    print(f"machine: a fixed 5M-iteration Python loop takes {_spread(_timed(loop))} s")


def main() -> None:
    _machine()
    print(
        f"{'SLOs':>6} {'rules':>7} {'output MB':>9}  {'render s (min-max)':>19}"
        f"  {'CLI s (min-max)':>19}  {'rules YAML: ours / PyYAML s':>27}"
    )
    for n in (1_000, 10_000):
        data = _spec(n)
        doc = Document(data)
        files = _render(doc)
        render = _timed(lambda doc=doc: _render(doc))
        groups = [g.as_dict() for g in rules.groups(build(spec.parse(doc, "b"), doc, "b"))]
        ours = _timed(lambda g=groups: _our_rules(g))
        theirs = _timed(lambda g=groups: _pyyaml_rules(g))
        with tempfile.TemporaryDirectory() as tmp:
            spec_file = Path(tmp) / "slo.yaml"
            spec_file.write_text(yamlout.dump(data, ""))
            cli = _timed(lambda s=spec_file, o=Path(tmp) / "out": _cli(s, o))
        mb = sum(len(t.encode()) for t in files.values()) / 1e6
        print(
            f"{n:>6} {sum(len(g['rules']) for g in groups):>7} {mb:>9.1f}  {_spread(render):>19}"
            f"  {_spread(cli):>19}  {statistics.median(ours):>10.2f} / "
            f"{statistics.median(theirs):.2f} ({statistics.median(theirs) / statistics.median(ours):.0f}x)"
        )


if __name__ == "__main__":
    main()
