"""Dashboards validate against Grafana's published classic dashboard schema.

The schema is @grafana/schema's `Dashboard` type as JSON Schema (tools/grafana-schema/,
built by `make setup`); `idp-rulegen check` runs the same validation on a bundle.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from devstack.servers import require_binary
from rulegen import bundle, model, schema_check, writer
from rulegen import grafana as g
from rulegen.errors import UsageError
from tests.rulegen.helpers import cli

from .helpers import sample_json

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "rulegen" / "golden"
SCHEMA = "@grafana/schema 13.2.3 Dashboard"


LOCATED = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<message>.+)$"
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_binary("promtool")


def write(path: Path, dash: dict[str, Any]) -> Path:
    path.write_text(g.to_json(dash))
    return path


def problems(output: str) -> list[dict[str, str]]:
    """The located lines of a validator run (the summary line left out)."""
    found = [LOCATED.match(line) for line in output.splitlines()]
    return [m.groupdict() for m in found if m]


def source_at(path: Path, problem: dict[str, str]) -> str:
    """The file's text from the reported LINE:COL (1-based) to the end of that line."""
    line = path.read_text().splitlines()[int(problem["line"]) - 1]
    return line[int(problem["col"]) - 1 :]


def position(text: str, before: str, value: str) -> str:
    """LINE:COL (1-based) of `value` where it follows `before` in text."""
    at = text.index(before + value) + len(before)
    return f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"


def test_committed_dashboards_are_schema_valid() -> None:
    files = sorted((REPO / "dashboards").glob("*.json"))
    assert len(files) == 6
    result = schema_check.validate(files)
    assert result.ok, result.output
    assert f"6 dashboard(s) valid against {SCHEMA}" in result.output


def test_golden_dashboards_are_schema_valid() -> None:
    files = sorted(p for p in GOLDEN.rglob("*.json") if p.parent.name == "dashboards")
    assert files
    result = schema_check.validate(files)
    assert result.ok, result.output


def test_a_variable_with_an_empty_current_choice_is_rejected_at_its_path(tmp_path: Path) -> None:
    dash = sample_json()
    dash["templating"]["list"][1]["current"] = {}
    path = write(tmp_path / "bad.json", dash)
    at = position(path.read_text(), '"current": ', "{}")
    result = schema_check.validate([path])
    assert not result.ok
    lines = result.output.splitlines()
    assert lines == [
        f"{path}:{at}: templating.list[1].current: missing required property 'text'",
        f"{path}:{at}: templating.list[1].current: missing required property 'value'",
        f"1 of 1 dashboard(s) invalid against {SCHEMA}",
    ]


def test_a_link_without_tooltip_is_rejected(tmp_path: Path) -> None:
    dash = g.render(g.Dashboard(uid="a", title="A", rows=(), links=("b",)))
    del dash["links"][0]["tooltip"]
    path = write(tmp_path / "link.json", dash)
    result = schema_check.validate([path])
    assert not result.ok
    [problem] = problems(result.output)
    assert problem["path"] == "links[0]"
    assert problem["message"] == "missing required property 'tooltip'"
    assert source_at(path, problem) == "{"  # the link object, opened on its own line


def test_a_bad_panel_reports_its_own_errors_not_the_row_alternative(tmp_path: Path) -> None:
    """panels[] is `Panel | RowPanel`: a broken stat panel is not told it must be a row."""
    dash = sample_json()
    stat = dash["panels"][1]
    assert stat["type"] == "stat"
    del stat["gridPos"]["h"]
    path = write(tmp_path / "panel.json", dash)
    result = schema_check.validate([path])
    assert not result.ok
    [problem] = problems(result.output)
    assert (problem["path"], problem["message"]) == (
        "panels[1].gridPos",
        "missing required property 'h'",
    )
    assert source_at(path, problem) == "{"
    assert path.read_text().splitlines()[int(problem["line"]) - 1].strip() == '"gridPos": {'


def test_a_mapping_of_unknown_type_names_the_allowed_types(tmp_path: Path) -> None:
    dash = sample_json()
    dash["panels"][1]["fieldConfig"]["defaults"]["mappings"] = [{"type": "bogus", "options": {}}]
    path = write(tmp_path / "mapping.json", dash)
    at = position(path.read_text(), '"type": ', '"bogus"')
    result = schema_check.validate([path])
    assert not result.ok
    assert result.output.splitlines()[:-1] == [
        f"{path}:{at}: "
        "panels[1].fieldConfig.defaults.mappings[0].type: "
        "must be equal to one of the allowed values: value, range, regex, special"
    ]


def test_every_file_is_reported_in_one_run(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", sample_json())
    unversioned = sample_json()
    del unversioned["schemaVersion"]  # the one field the schema requires at the top
    bad = write(tmp_path / "no-version.json", unversioned)
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": ')
    result = schema_check.validate([good, bad, broken])
    assert not result.ok
    assert f"{bad}:1:1: $: missing required property 'schemaVersion'" in result.output
    assert f"{broken}:1:1: $: not JSON" in result.output
    assert str(good) not in result.output
    assert f"2 of 3 dashboard(s) invalid against {SCHEMA}" in result.output


def bundle_with(tmp_path: Path, dash: dict[str, Any]) -> Path:
    """The ratio variant's bundle, rendered, with `dash` as its overview dashboard."""
    root = tmp_path / "bundle"
    writer.write(root, bundle.render(model.load(str(GOLDEN / "ratio" / "spec.yaml"))))
    write(root / "dashboards" / "slo-overview.json", dash)
    return root


def test_check_fails_on_a_schema_invalid_dashboard(tmp_path: Path, promtool: str) -> None:
    dash = json.loads((GOLDEN / "_shared" / "dashboards" / "slo-overview.json").read_text())
    dash["templating"]["list"][0]["current"] = {}
    root = bundle_with(tmp_path, dash)
    result = cli("check", str(root))
    assert result.exit_code == 1
    assert "SUCCESS" in result.stderr  # promtool's verdict is reported too
    assert "slo-overview.json:" in result.stderr
    assert "templating.list[0].current: missing required property 'text'" in result.stderr
    assert f"1 of 2 dashboard(s) invalid against {SCHEMA}" in result.stderr


def test_check_passes_a_valid_bundle_and_says_so(tmp_path: Path, promtool: str) -> None:
    root = bundle_with(
        tmp_path, json.loads((REPO / "dashboards" / "slo-overview.json").read_text())
    )
    result = cli("check", str(root))
    assert result.exit_code == 0, result.output
    assert f"2 dashboard(s) valid against {SCHEMA}" in result.output


def test_check_fails_clearly_without_the_tooling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = bundle_with(tmp_path, sample_json())
    monkeypatch.setenv(schema_check.TOOL_ENV, str(tmp_path / "nowhere"))
    result = cli("check", str(root))
    assert result.exit_code == 2
    assert "schema tooling is not installed" in result.stderr
    assert "make setup" in result.stderr


def test_check_fails_clearly_without_node(
    tmp_path: Path, promtool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "promtool").symlink_to(promtool)
    root = bundle_with(tmp_path, sample_json())
    monkeypatch.setenv("PATH", str(bin_dir))
    result = cli("check", str(root))
    assert result.exit_code == 2
    assert "node is not installed" in result.stderr


def tool_copy(tmp_path: Path) -> Path:
    """The tooling's scripts in a scratch folder, sharing the installed node_modules."""
    real = schema_check.TOOL_DIR
    copy = tmp_path / "tool"
    (copy / "build").mkdir(parents=True)
    for name in ("validate.js", "source.js", "package.json"):
        shutil.copy(real / name, copy / name)
    (copy / "node_modules").symlink_to(real / "node_modules")
    return copy


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        (None, "dashboard.schema.json is missing; run `make setup`"),
        ("built from other versions", "does not match the installed packages"),
    ],
)
def test_a_missing_or_stale_schema_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, comment: str | None, message: str
) -> None:
    tool = tool_copy(tmp_path)
    if comment is not None:
        built = json.loads((schema_check.TOOL_DIR / "build" / "dashboard.schema.json").read_text())
        (tool / "build" / "dashboard.schema.json").write_text(
            json.dumps({**built, "$comment": comment})
        )
    monkeypatch.setenv(schema_check.TOOL_ENV, str(tool))
    path = write(tmp_path / "d.json", sample_json())
    with pytest.raises(UsageError, match=message):
        schema_check.validate([path])
