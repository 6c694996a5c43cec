"""How long `idp-rulegen check` spends proving the repo's rules, against a baseline revision.

The generated promtool test file is most of `check`: promtool sets up each test anew and
evaluates every rule of the file at every evaluation step. Each run times, alternating so
that machine load hits both alike:
- baseline: `promtool test rules` on the rules and generated tests of `--baseline` (a git
  revision, e.g. the commit before a change), extracted with `git show`;
- current: the same on the working tree's files;
- check: the whole `idp-rulegen check .` on the working tree.
Prints median (min-max) of wall and CPU (user+sys of the child) seconds, and the ratio.

    python bench/check_speed.py [--baseline REV] [--runs 3]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
SPEC = "idp"
FILES = (f"alerts/{SPEC}.rules.yml", f"alerts/tests/{SPEC}.test.yml")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: Sequence[str], cwd: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; a failing run is an error, not a figure."""
    cpu, start = _child_cpu(), time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed in {cwd}:\n{result.stdout}{result.stderr}")
    return wall, _child_cpu() - cpu


def extract(rev: str, into: Path) -> None:
    for path in FILES:
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_text(text)


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


@click.command()
@click.option("--baseline", default="main", show_default=True, help="git revision to compare")
@click.option("--runs", default=3, show_default=True)
def main(baseline: str, runs: int) -> None:
    promtool = shutil.which("promtool")
    rulegen = Path(sys.executable).parent / "idp-rulegen"
    if promtool is None:
        sys.exit("promtool is not installed")
    test_file = FILES[1]
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        extract(baseline, old)
        cases = {
            f"promtool, {baseline}": ([promtool, "test", "rules", test_file], old),
            "promtool, current": ([promtool, "test", "rules", test_file], ROOT),
            "idp-rulegen check .": ([str(rulegen), "check", "."], ROOT),
        }
        walls: dict[str, list[float]] = {name: [] for name in cases}
        cpus: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(runs):
            for name, (argv, cwd) in cases.items():
                wall, cpu = timed(argv, cwd)
                walls[name].append(wall)
                cpus[name].append(cpu)
    print(f"{runs} runs, load average {os.getloadavg()[0]:.1f}; median (min-max)")
    print(f"{'':24} {'wall':>22} {'cpu (user+sys)':>24}")
    for name in cases:
        print(f"{name:24} {summary(walls[name]):>22} {summary(cpus[name]):>24}")
    base, cur = f"promtool, {baseline}", "promtool, current"
    wall_ratio = statistics.median(walls[base]) / statistics.median(walls[cur])
    cpu_ratio = statistics.median(cpus[base]) / statistics.median(cpus[cur])
    print(f"ratio baseline/current: wall {wall_ratio:.1f}x, cpu {cpu_ratio:.1f}x")


if __name__ == "__main__":
    main()
