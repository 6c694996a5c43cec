"""Run promtool on a rendered bundle (check rules, test rules); output goes to the caller.

Before promtool, the rule files are checked for two things promtool cannot see. Two files
generated from specs with the same metadata.name: their series and alerts carry the same
slo_spec label, so one Prometheus loading both would mix their SLOs (and fail with "same
labelset after applying rule labels" where their SLO names are equal too). And a copy of
rule groups beside the tests (alerts/tests/*.rules.yml: the threshold groups alone, so
that their tests do not evaluate every SLO rule at every step) that is not the groups of
alerts/*.rules.yml: the tests loading it would prove other rules than those deployed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rulegen import naming
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


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def test_rules(files: list[Path]) -> Result:
    """`promtool test rules`, one process per file, as many at once as there are CPUs
    (promtool runs a file's tests one after another, on one core); the output in file order."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(files), _workers()))) as pool:
        results = list(pool.map(lambda f: _run(["test", "rules", str(f)]), files))
    return Result(all(r.ok for r in results), "".join(r.output for r in results))


def _groups(rule_file: Path) -> list[dict[str, Any]]:
    """A rule file's groups; an unreadable file has none (it is promtool's to report)."""
    try:
        data = yaml.load(rule_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        groups = data.get("groups") or []
        return [g for g in groups if isinstance(g, dict)]
    except (yaml.YAMLError, AttributeError, TypeError, UnicodeDecodeError):
        return []


def _specs(rule_file: Path) -> set[str]:
    """The slo_spec values of a rule file's rules."""
    try:
        return {
            str(rule["labels"][naming.LABEL_SLO_SPEC])
            for group in _groups(rule_file)
            for rule in group.get("rules") or []
            if naming.LABEL_SLO_SPEC in (rule.get("labels") or {})
        }
    except (AttributeError, TypeError):
        return set()


def _layer(rule_file: Path) -> str:
    """`cluster` or `global` for a split bundle's files, else empty."""
    for layer in ("cluster", "global"):
        if rule_file.name.endswith(f".{layer}.rules.yml"):
            return layer
    return ""


def spec_collisions(rule_files: list[Path]) -> Result:
    """An error per spec name that more than one rule file was generated from."""
    files_by_spec: dict[tuple[str, str], list[Path]] = {}
    for f in rule_files:
        for spec in sorted(_specs(f)):
            # A split bundle's cluster and global files are for different Prometheuses.
            files_by_spec.setdefault((spec, _layer(f)), []).append(f)
    errors = [
        f"error: {' and '.join(map(str, files))}: generated from specs with the same "
        f'metadata.name "{spec}" ({naming.LABEL_SLO_SPEC}="{spec}"): one Prometheus loading '
        "both mixes their SLOs; give each spec its own metadata.name\n"
        for (spec, _), files in sorted(files_by_spec.items())
        if len(files) > 1
    ]
    return Result(not errors, "".join(errors))


def stale_copies(rule_files: list[Path], copies: list[Path]) -> Result:
    """An error per group of a copy (a rule file beside the tests) that is not, as parsed,
    the group of that name in the rule files: tests that load a copy prove the rules only
    while it is one."""
    originals: dict[str, tuple[Path, dict[str, Any]]] = {}
    for f in rule_files:
        originals.update((str(g.get("name")), (f, g)) for g in _groups(f))
    errors = []
    for copy in copies:
        for group in _groups(copy):
            name = str(group.get("name"))
            source, original = originals.get(name, (None, None))
            if original != group:
                where = f"is not the group of {source}" if source else "is in no rule file"
                errors.append(
                    f"error: {copy}: rule group {name} {where}: "
                    "tests loading it would not prove the rules\n"
                )
    return Result(not errors, "".join(errors))


def check_bundle(root: Path) -> Result:
    """Spec collisions and `promtool check rules` on alerts/*.rules.yml, the copies of their
    groups in alerts/tests/*.rules.yml, then `test rules` on alerts/tests/*.test.yml."""
    alerts = root / "alerts"
    rule_files = sorted(alerts.glob("*.rules.yml"))
    test_files = sorted((alerts / "tests").glob("*.test.yml"))
    if not rule_files:
        raise UsageError(f"no rule files in {alerts} (expected alerts/*.rules.yml)")
    found = [
        spec_collisions(rule_files),
        stale_copies(rule_files, sorted((alerts / "tests").glob("*.rules.yml"))),
    ]
    checked = check_rules(rule_files)
    tested = [test_rules(test_files)] if checked.ok and test_files else []
    results = [*found, checked, *tested]
    ok = all(r.ok for r in results)
    return Result(ok, "".join(r.output for r in results))
