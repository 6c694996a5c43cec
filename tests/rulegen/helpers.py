"""Shared helpers for rulegen tests: write specs, run the CLI in-process, run promtool."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from rulegen.cli import main

HEAD = "apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {name: t}\n"

RATIO_SLO = """\
slos:
  - name: ok
    objective: 99.9
    sli:
      ratio:
        errors: app_errors_total
        total: app_requests_total
"""


def spec(tmp_path: Path, body: str, head: str = HEAD, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(head + textwrap.dedent(body))
    return path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_promtool(promtool_bin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_bin, *args], capture_output=True, text=True, check=False, timeout=600
    )


def assert_refused(spec_path: Path, line: int, path: str, message: str) -> None:
    """`validate` exits 2 with an error at `line` (counted in the body, after HEAD) of
    `path` whose message contains `message`."""
    result = cli("validate", str(spec_path))
    assert result.exit_code == 2, result.output
    where = f"{spec_path}:{line + HEAD.count(chr(10))}:"
    errors = [e for e in result.stderr.splitlines() if e.startswith(where)]
    assert any(f": {path}: " in e and message in e for e in errors), result.stderr
