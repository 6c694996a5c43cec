"""How long `idp-rulegen check .` takes on the repo's bundle, against a baseline revision.

`check` is mostly `promtool test rules`: promtool sets up each test anew and evaluates
every rule a test file loads at every evaluation step. The baseline revision (`--baseline`,
e.g. main before a change) is extracted with `git archive`, code and bundle alike, and its
own `check` runs on its own bundle; the current one on the working tree. Runs alternate,
so that machine load hits both alike. Printed: median (min-max) of wall and CPU seconds
(user+sys of the child and its promtool processes; steadier than wall on a shared
machine) for the whole `check`, then for `promtool test rules` on each test file alone.

    python bench/check_speed.py --baseline REV [--runs 5]
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
# The baseline's checkout has no node_modules: both validate dashboards with this one's.
SCHEMA_TOOL = {"IDP_GRAFANA_SCHEMA_TOOL": str(ROOT / "tools" / "grafana-schema")}
# Run the `check` of the code in the working directory (the baseline's, or this tree's).
CHECK = [sys.executable, "-c", "from rulegen.cli import main; main()", "check", "."]

Case = tuple[list[str], Path]


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: Sequence[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; a failing run is an error, not a figure."""
    env = {**os.environ, **SCHEMA_TOOL, "PYTHONPATH": str(cwd)}
    cpu, start = _child_cpu(), time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed in {cwd}:\n{result.stdout}{result.stderr}")
    return wall, _child_cpu() - cpu


def extract(rev: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def cases(label: str, root: Path, promtool: str) -> dict[str, Case]:
    out = {f"check, {label}": (CHECK, root)}
    for test in sorted((root / "alerts" / "tests").glob("*.test.yml")):
        rel = str(test.relative_to(root))
        out[f"  {test.name}, {label}"] = ([promtool, "test", "rules", rel], root)
    return out


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def ratio(walls: dict[str, list[float]], cpus: dict[str, list[float]], a: str, b: str) -> str:
    wall = statistics.median(walls[a]) / statistics.median(walls[b])
    cpu = statistics.median(cpus[a]) / statistics.median(cpus[b])
    return f"wall {wall:.1f}x, cpu {cpu:.1f}x"


@click.command()
@click.option("--baseline", required=True, help="git revision to compare, e.g. main")
@click.option("--runs", default=5, show_default=True)
def main(baseline: str, runs: int) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        sys.exit("promtool is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        extract(baseline, old)
        todo = {**cases(baseline, old, promtool), **cases("current", ROOT, promtool)}
        walls: dict[str, list[float]] = {name: [] for name in todo}
        cpus: dict[str, list[float]] = {name: [] for name in todo}
        loads = []
        for _ in range(runs):
            for name, (argv, cwd) in todo.items():
                wall, cpu = timed(argv, cwd)
                walls[name].append(wall)
                cpus[name].append(cpu)
            loads.append(os.getloadavg()[0])
    print(f"{runs} runs, 1-minute load average {min(loads):.1f}-{max(loads):.1f}; median (min-max)")
    print(f"{'':40} {'wall':>22} {'cpu (user+sys)':>24}")
    for name in todo:
        print(f"{name:40} {summary(walls[name]):>22} {summary(cpus[name]):>24}")
    speedup = ratio(walls, cpus, f"check, {baseline}", "check, current")
    print(f"check, ratio {baseline}/current: {speedup}")


if __name__ == "__main__":
    main()
