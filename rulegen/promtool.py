"""Run promtool on a rendered bundle (check rules, test rules); output goes to the caller."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rulegen.errors import UsageError

TIMEOUT = 300


@dataclass(frozen=True)
class Result:
    ok: bool
    output: str


def _binary() -> str:
    found = shutil.which("promtool")
    if found is None:
        raise UsageError(
            "promtool is not installed (Debian package `prometheus`); run `make setup`"
        )
    return found


def _run(args: list[str]) -> Result:
    proc = subprocess.run(
        [_binary(), *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    return Result(proc.returncode == 0, proc.stdout + proc.stderr)


def check_rules(files: list[Path]) -> Result:
    return _run(["check", "rules", "--lint=duplicate-rules", "--lint-fatal", *map(str, files)])


def test_rules(files: list[Path]) -> Result:
    return _run(["test", "rules", *map(str, files)])


def check_bundle(root: Path) -> Result:
    """`promtool check rules` on alerts/*.rules.yml, then `test rules` on alerts/tests/*.test.yml."""
    alerts = root / "alerts"
    rule_files = sorted(alerts.glob("*.rules.yml"))
    test_files = sorted((alerts / "tests").glob("*.test.yml"))
    if not rule_files:
        raise UsageError(f"no rule files in {alerts} (expected alerts/*.rules.yml)")
    checked = check_rules(rule_files)
    if not checked.ok or not test_files:
        return checked
    tested = test_rules(test_files)
    return Result(tested.ok, checked.output + tested.output)
