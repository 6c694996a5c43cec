"""Validate dashboard JSON against Grafana's published classic dashboard schema.

The schema is @grafana/schema's `Dashboard` type turned into JSON Schema by the Node
tooling in tools/grafana-schema/ (installed and built by `make setup`); this module runs
its validate script and hands back what it printed: `FILE:LINE:COL: path: message`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from rulegen.errors import UsageError
from rulegen.promtool import Result

# Where the tooling lives; the variable points a non-editable install at a checkout's copy.
TOOL_ENV = "IDP_GRAFANA_SCHEMA_TOOL"
TOOL_DIR = Path(__file__).resolve().parent.parent / "tools" / "grafana-schema"
TIMEOUT = 120
# validate.js: 0 all valid, 1 some invalid, 2 it could not run.
_CANNOT_RUN = 2


def tool_dir() -> Path:
    return Path(os.environ.get(TOOL_ENV) or TOOL_DIR)


def _command() -> list[str]:
    """`node validate.js`, or a UsageError saying what is missing; never a silent skip."""
    node = shutil.which("node")
    if node is None:
        raise UsageError(
            "node is not installed: validating dashboards against Grafana's schema needs "
            "Node.js 20+ and `make setup`"
        )
    root = tool_dir()
    script = root / "validate.js"
    if not script.is_file() or not (root / "node_modules").is_dir():
        raise UsageError(
            f"the Grafana dashboard schema tooling is not installed in {root}; run `make setup`"
            f" in an idp-slo checkout, or set {TOOL_ENV} to its tools/grafana-schema"
        )
    return [node, str(script)]


def validate(files: Sequence[Path]) -> Result:
    """Validate dashboard JSON files; every problem of every file in one output."""
    proc = subprocess.run(
        [*_command(), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if proc.returncode == _CANNOT_RUN:
        raise UsageError(proc.stderr.strip().removeprefix("error: "))
    return Result(proc.returncode == 0, proc.stdout + proc.stderr)


def check_bundle(root: Path) -> Result:
    """Validate root/dashboards/*.json."""
    files = sorted((root / "dashboards").glob("*.json"))
    if not files:
        return Result(True, f"{root / 'dashboards'}: no dashboards to validate\n")
    return validate(files)
