"""`idp-rulegen import`: golden spec text and notes over our own Sloth/OpenSLO fixtures,
every imported spec validates and renders, and bad input exits 2 writing nothing.

Update the expected files with `pytest tests/rulegen/importers --update-golden` and
review the diff like any other change to the output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rulegen import bundle, model, writer
from rulegen.importers import output

from ..helpers import cli

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
EXPECTED = HERE / "expected"

CASES = [
    pytest.param("sloth", ["sloth-checkout.yaml"], id="sloth-checkout"),
    pytest.param("sloth", ["sloth-crd.yaml"], id="sloth-crd"),
    pytest.param("sloth", ["sloth-checkout.yaml", "sloth-crd.yaml"], id="sloth-two-files"),
    pytest.param("openslo", ["openslo-shop.yaml"], id="openslo-shop"),
]


def _import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str, files: list[str]
) -> tuple[int, Path, str]:
    monkeypatch.chdir(FIXTURES)  # relative names keep the source comments stable
    out = tmp_path / "slo.yaml"
    result = cli("import", fmt, *files, "-o", str(out))
    return result.exit_code, out, result.stderr


def _golden(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} differs; review, then --update-golden"


@pytest.mark.parametrize(("fmt", "files"), CASES)
def test_import_writes_the_expected_spec_and_notes(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    update_golden: bool,
    request: pytest.FixtureRequest,
    fmt: str,
    files: list[str],
) -> None:
    case = request.node.callspec.id
    code, out, stderr = _import(monkeypatch, tmp_path, fmt, files)
    assert code == 0, stderr
    notes = stderr.replace(str(out), "OUT")
    _golden(EXPECTED / f"{case}.yaml", out.read_text(), update_golden)
    _golden(EXPECTED / f"{case}.notes", notes, update_golden)


@pytest.mark.parametrize("case", ["sloth-checkout", "sloth-crd", "sloth-two-files", "openslo-shop"])
def test_imported_spec_validates_and_renders(case: str) -> None:
    m = model.load(str(EXPECTED / f"{case}.yaml"))
    assert m.slos
    files = bundle.render(m)
    assert any(name.endswith(".rules.yml") for name in files)


def test_every_source_slo_is_named_by_a_comment() -> None:
    text = (EXPECTED / "sloth-crd.yaml").read_text()
    assert "  # from sloth-crd.yaml:12 spec.slos[0] (Sloth SLO 'query-availability')\n" in text
    assert "  # from sloth-crd.yaml:40 spec.slos[0] (Sloth SLO 'index-freshness')\n" in text


def test_without_output_the_spec_goes_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    result = cli("import", "sloth", "sloth-crd.yaml")
    assert result.exit_code == 0
    assert result.stdout == (EXPECTED / "sloth-crd.yaml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["sloth-checkout", "openslo-shop"])
def test_rendered_import_passes_promtool(tmp_path: Path, promtool: str, case: str) -> None:
    # sloth-checkout holds the `or on() vector(0)` error query and a raw error ratio.
    writer.write(tmp_path, bundle.render(model.load(str(EXPECTED / f"{case}.yaml"))))
    result = cli("check", str(tmp_path))
    assert result.exit_code == 0, result.output


BAD = [
    pytest.param(
        "sloth",
        "not-an-slo.yaml",
        "not-an-slo.yaml:2:1: $: not a Sloth file",
        id="sloth-neither-format",
    ),
    pytest.param(
        "openslo",
        "not-an-slo.yaml",
        "not-an-slo.yaml:2:1: $: not an OpenSLO v1 object",
        id="openslo-neither-format",
    ),
    pytest.param(
        "sloth",
        "sloth-invalid-promql.yaml",
        "sloth-invalid-promql.yaml:8:22: slos[0].sli.events.error_query: Sloth SLO 'requests' "
        "not imported: invalid PromQL",
        id="sloth-invalid-promql",
    ),
    pytest.param(
        "openslo",
        "openslo-missing-ref.yaml",
        "openslo-missing-ref.yaml:7:17: spec.indicatorRef: OpenSLO SLO 'orders-availability' "
        "not imported: SLI 'orders-good-requests' is not defined in the given files",
        id="openslo-missing-sli",
    ),
    pytest.param(
        "openslo",
        "sloth-checkout.yaml",
        "sloth-checkout.yaml:2:1: $: not an OpenSLO v1 object",
        id="sloth-file-as-openslo",
    ),
]


@pytest.mark.parametrize(("fmt", "file", "message"), BAD)
def test_bad_input_is_located_exits_2_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fmt: str, file: str, message: str
) -> None:
    code, out, stderr = _import(monkeypatch, tmp_path, fmt, [file])
    assert code == 2
    assert message in stderr
    assert stderr.endswith("nothing could be imported from 1 file(s); nothing written\n")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_bad_input_leaves_an_existing_output_untouched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "slo.yaml").write_text("before\n")
    code, out, _ = _import(monkeypatch, tmp_path, "sloth", ["sloth-invalid-promql.yaml"])
    assert code == 2
    assert out.read_text() == "before\n"


def test_one_bad_file_does_not_cost_the_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, stderr = _import(
        monkeypatch, tmp_path, "sloth", ["sloth-invalid-promql.yaml", "sloth-crd.yaml"]
    )
    assert code == 0
    assert "sloth-invalid-promql.yaml:8:22:" in stderr
    assert "name: query-availability" in out.read_text()


def test_unreadable_and_malformed_files_are_located(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: prometheus/v1\nslos: [\n")
    result = cli("import", "sloth", str(bad), str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert f"{bad}:3:1: $: malformed YAML" in result.stderr
    assert f"{tmp_path / 'missing.yaml'}:1:1: $: cannot read file" in result.stderr


def test_invalid_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(FIXTURES)
    result = cli("import", "sloth", "sloth-crd.yaml", "--name", "Not_A_Name")
    assert result.exit_code == 2
    assert "--name 'Not_A_Name'" in result.stderr


def test_name_option_sets_metadata_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    result = cli("import", "sloth", "sloth-crd.yaml", "--name", "search-slos")
    assert result.exit_code == 0
    assert "metadata:\n  name: search-slos\n" in result.stdout
    assert "    service: search\n" in result.stdout  # no longer the default


def test_a_spec_the_model_refuses_is_an_importer_bug() -> None:
    with pytest.raises(output.ImportBug, match="a bug"):
        output._prove("apiVersion: idp-slo/v1\nkind: SLOSpec\nmetadata: {name: Bad}\n")


def test_the_command_runs_as_installed(tmp_path: Path) -> None:
    exe = Path(__file__).parents[3] / ".venv" / "bin" / "idp-rulegen"
    result = subprocess.run(
        [str(exe), "import", "openslo", "openslo-missing-ref.yaml", "-o", str(tmp_path / "o")],
        cwd=FIXTURES,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert not (tmp_path / "o").exists()
