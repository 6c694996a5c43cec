"""Run promtool on a rendered bundle (check rules, test rules); output goes to the caller.

Before promtool, the rule files are checked for one thing promtool cannot see: two files
generated from specs with the same metadata.name. Their series and alerts carry the same
slo_spec label, so one Prometheus loading both would mix their SLOs (and fail with "same
labelset after applying rule labels" where their SLO names are equal too).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

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


def test_rules(files: list[Path]) -> Result:
    return _run(["test", "rules", *map(str, files)])


def _specs(rule_file: Path) -> set[str]:
    """The slo_spec values of a rule file's rules; unreadable files are promtool's to report."""
    try:
        data = yaml.load(rule_file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        groups = data.get("groups") or []
        return {
            str(rule["labels"][naming.LABEL_SLO_SPEC])
            for group in groups
            for rule in group.get("rules") or []
            if naming.LABEL_SLO_SPEC in (rule.get("labels") or {})
        }
    except (yaml.YAMLError, AttributeError, TypeError, UnicodeDecodeError):
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


def check_bundle(root: Path) -> Result:
    """Spec collisions and `promtool check rules` on alerts/*.rules.yml, then `test rules` on
    alerts/tests/*.test.yml."""
    alerts = root / "alerts"
    rule_files = sorted(alerts.glob("*.rules.yml"))
    test_files = sorted((alerts / "tests").glob("*.test.yml"))
    if not rule_files:
        raise UsageError(f"no rule files in {alerts} (expected alerts/*.rules.yml)")
    collisions = spec_collisions(rule_files)
    checked = check_rules(rule_files)
    if not checked.ok or not test_files:
        return Result(collisions.ok and checked.ok, collisions.output + checked.output)
    tested = test_rules(test_files)
    return Result(collisions.ok and tested.ok, collisions.output + checked.output + tested.output)
