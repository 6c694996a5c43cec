"""The bundle writer: all or nothing even when a rename fails, and files it no longer
generates are removed (and reported by `render --check`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rulegen import bundle, model, writer

from .helpers import cli, spec

REAL_REPLACE = os.replace
DASHBOARD = "  - uid: {uid}\n    title: {uid}\n    rows: []\n"


def _body(objective: str, uids: list[str]) -> str:
    return (
        "slos:\n  - name: ok\n    objective: " + objective + "\n    sli:\n      ratio:\n"
        "        errors: app_errors_total\n        total: app_requests_total\n"
        + ("dashboards:\n" + "".join(DASHBOARD.format(uid=u) for u in uids) if uids else "")
    )


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under root, hidden ones included."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _files(root: Path, body: str) -> dict[str, str]:
    return bundle.render(model.load(str(spec(root, body))))


def _old_and_new(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A bundle on disk (v1) and the files of the next render (v2): changed rules, one
    dashboard dropped, one added (in a new directory's worth of files)."""
    root = tmp_path / "bundle"
    root.mkdir(parents=True)
    writer.write(root, _files(root, _body("99.9", ["team-a", "team-b"])))
    (root / "notes.txt").write_text("not ours\n")
    return root, _files(root, _body("99.5", ["team-a", "team-c"]))


def _renames(tmp_path: Path) -> int:
    """How many os.replace calls a successful v1 -> v2 render makes."""
    root, new = _old_and_new(tmp_path / "count")
    calls = 0

    def counting(src: str | Path, dst: str | Path) -> None:
        nonlocal calls
        calls += 1
        REAL_REPLACE(src, dst)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", counting)
        writer.write(root, new)
    return calls


def test_a_failing_rename_leaves_the_previous_bundle_intact(tmp_path: Path) -> None:
    total = _renames(tmp_path)
    assert total >= 5  # the rules, tests, both dashboards' files, the manifest ...
    for n in range(1, total + 1):
        root, new = _old_and_new(tmp_path / f"fail-at-{n}")
        before = _snapshot(root)
        calls = 0

        def failing(src: str | Path, dst: str | Path, n: int = n) -> None:
            nonlocal calls
            calls += 1
            if calls == n:
                raise OSError(28, "No space left on device (injected)")
            REAL_REPLACE(src, dst)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "replace", failing)
            with pytest.raises(OSError, match="injected"):
                writer.write(root, new)
        # Byte for byte the old bundle: no new file, no temporary, no backup, no removal.
        assert _snapshot(root) == before, f"rename {n} of {total}"
        # ... and the next render, without the fault, completes it.
        writer.write(root, new)
        assert writer.plan(root, new) == writer.Plan({}, {})


def test_a_failing_removal_rolls_back_the_renames(tmp_path: Path) -> None:
    root, new = _old_and_new(tmp_path)
    before = _snapshot(root)

    def failing(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied (injected)", str(self))

    real_unlink = Path.unlink
    with pytest.MonkeyPatch.context() as mp:
        # Fail the removal of the dropped dashboard only; temporaries may still go.
        mp.setattr(
            Path,
            "unlink",
            lambda self, missing_ok=False: (
                failing(self) if self.name == "team-b.json" else real_unlink(self, missing_ok)
            ),
        )
        with pytest.raises(PermissionError, match="injected"):
            writer.write(root, new)
    assert _snapshot(root) == before


def test_files_no_longer_generated_are_reported_then_removed(tmp_path: Path) -> None:
    path = spec(tmp_path, _body("99.9", ["team-a", "team-b"]))
    assert cli("render", str(path)).exit_code == 0
    (tmp_path / "dashboards" / "mine.json").write_text("{}\n")  # not generated: kept
    path.write_text(path.read_text().replace(DASHBOARD.format(uid="team-b"), ""))
    gone = ["dashboards/team-b.json", "deploy/generated/grafana-dashboard-team-b.yaml"]

    check = cli("render", "--check", str(path))
    assert check.exit_code == 1, check.output
    for rel in gone:
        assert f"{tmp_path / rel}: no longer generated" in check.stderr
        assert f"--- a/{rel}\n+++ /dev/null" in check.stdout
    assert (tmp_path / gone[0]).exists()  # --check writes nothing

    done = cli("render", str(path))
    assert done.exit_code == 0, done.output
    for rel in gone:
        assert f"removed {tmp_path / rel} (no longer generated)" in done.stderr
        assert not (tmp_path / rel).exists()
    assert (tmp_path / "dashboards" / "mine.json").exists()
    assert (
        "grafana-dashboard-team-b.yaml"
        not in (tmp_path / "deploy" / "generated" / "kustomization.yaml").read_text()
    )
    assert cli("render", "--check", str(path)).exit_code == 0


def test_the_manifest_cannot_point_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep\n")
    files = _files(root, _body("99.9", []))
    writer.write(root, files)
    manifest = root / writer.MANIFEST
    manifest.write_text(manifest.read_text() + f"../precious.txt\n{outside}\n")
    assert writer.plan(root, files).removed == {}
    writer.write(root, files)
    assert outside.read_text() == "keep\n"


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    files = _files(root, _body("99.9", ["team-a"]))
    first = writer.write(root, files)
    assert writer.MANIFEST in first.written and set(files) <= set(first.written)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = writer.write(root, files)
    assert again == writer.Written([], [])
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == mtimes
