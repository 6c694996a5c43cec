"""Golden files: each spec variant renders byte-for-byte to its committed bundle.

Each distinct file is committed once. golden/_shared/<path> holds the content most
variants render at <path>; golden/<variant>/ holds its spec.yaml and only the files where
that variant differs. So a change to, say, the provisioning files rewrites one golden, not
eight. (A path not every variant renders is never shared.)

Update with `pytest tests/rulegen --update-golden` after an intended change, and review
the diff like any other change to the public output.
"""

from __future__ import annotations

import difflib
from collections import Counter
from pathlib import Path

import pytest

from rulegen import bundle, model, writer

from .conftest import GOLDEN

SHARED = "_shared"
SPEC = "spec.yaml"
VARIANTS = sorted(p.name for p in GOLDEN.iterdir() if (p / SPEC).exists())

Bundle = dict[str, str]  # path in the bundle -> text


def layout(bundles: dict[str, Bundle]) -> Bundle:
    """The golden files (path under golden/ -> text) that hold these bundles, each file once."""
    out: Bundle = {}
    for path in sorted({p for files in bundles.values() for p in files}):
        texts = [files[path] for files in bundles.values() if path in files]
        common, count = Counter(texts).most_common(1)[0]
        shared = common if count > 1 and len(texts) == len(bundles) else None
        if shared is not None:
            out[f"{SHARED}/{path}"] = shared
        for variant, files in bundles.items():
            if path in files and files[path] != shared:
                out[f"{variant}/{path}"] = files[path]
    return out


def committed(root: Path = GOLDEN) -> Bundle:
    """Every golden file on disk but the specs."""
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in root.rglob("*")
        if p.is_file() and not (p.name == SPEC and p.parent.parent == root)
    }


def expected(variant: str, golden: Bundle) -> Bundle:
    """The bundle a variant's goldens stand for: the shared files, overlaid by its own."""
    out: Bundle = {}
    for prefix in (SHARED, variant):
        out.update(
            {p[len(prefix) + 1 :]: t for p, t in golden.items() if p.startswith(prefix + "/")}
        )
    return out


def rewrite(golden: Bundle, root: Path = GOLDEN) -> None:
    """Make golden/ hold exactly these files (and the specs): write changes, drop the rest."""
    writer.write(root, golden)
    for rel in set(committed(root)) - set(golden):
        path = root / rel
        path.unlink()
        for parent in path.parents:
            if parent == root or any(parent.iterdir()):
                break
            parent.rmdir()


def _diff(want: Bundle, got: Bundle) -> str:
    chunks: list[str] = []
    for rel in sorted(set(want) | set(got)):
        if want.get(rel) != got.get(rel):
            chunks.extend(
                difflib.unified_diff(
                    want.get(rel, "").splitlines(keepends=True),
                    got.get(rel, "").splitlines(keepends=True),
                    fromfile=f"golden/{rel}" if rel in want else "/dev/null",
                    tofile=f"rendered/{rel}" if rel in got else "/dev/null",
                )
            )
    return "".join(chunks)


@pytest.fixture(scope="module")
def bundles(update_golden: bool) -> dict[str, Bundle]:
    """Every variant rendered once; under --update-golden, golden/ is rewritten from them."""
    out = {v: bundle.render(model.load(str(GOLDEN / v / SPEC))) for v in VARIANTS}
    if update_golden:
        rewrite(layout(out))
    return out


def test_every_variant_of_the_issue_has_a_golden_dir() -> None:
    assert set(VARIANTS) >= {
        "ratio",
        "latency",
        "probe",
        "raw",
        "group-by",
        "window-7d",
        "window-28d",
        "no-alerts",
        "split",
        "split-mimir",
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_golden(variant: str, bundles: dict[str, Bundle]) -> None:
    want = expected(variant, committed())
    assert bundles[variant] == want, _diff(want, bundles[variant])


def test_each_distinct_file_is_committed_once(bundles: dict[str, Bundle]) -> None:
    """No golden repeats another: the tree is exactly the layout of what is rendered."""
    want, got = layout(bundles), committed()
    assert sorted(got) == sorted(want)
    for variant in VARIANTS:
        mine = {p for p in got if p.startswith(f"{variant}/")}
        assert all(got[p] != got.get(f"{SHARED}/{p[len(variant) + 1 :]}") for p in mine)


def test_layout_shares_what_every_variant_renders_alike() -> None:
    bundles = {
        "a": {"same": "x", "most": "1", "own": "a", "some": "s"},
        "b": {"same": "x", "most": "1", "own": "b"},
        "c": {"same": "x", "most": "2", "own": "c", "some": "s"},
    }
    assert layout(bundles) == {
        "_shared/same": "x",
        "_shared/most": "1",
        "c/most": "2",
        "a/own": "a",
        "b/own": "b",
        "c/own": "c",
        "a/some": "s",
        "c/some": "s",
    }
    golden = layout(bundles)
    assert {v: expected(v, golden) for v in bundles} == bundles


@pytest.mark.parametrize("variant", VARIANTS)
def test_render_is_deterministic(variant: str, bundles: dict[str, Bundle]) -> None:
    assert bundle.render(model.load(str(GOLDEN / variant / SPEC))) == bundles[variant]


def test_generated_files_start_with_the_header() -> None:
    for path in GOLDEN.rglob("alerts/**/*.yml"):
        assert path.read_text().startswith("# Generated by idp-rulegen — do not edit.\n"), path


EVERY_BUNDLE = {
    "dashboards/slo-overview.json",
    "dashboards/slo-detail.json",
    "dashboards/provisioning/dashboards.yml",
    "dashboards/provisioning/datasources.yml",
    "deploy/generated/alertmanager/alertmanager.yml",
    "deploy/generated/grafana-dashboard-slo-detail.yaml",
    "deploy/generated/grafana-dashboard-slo-overview.yaml",
    "deploy/generated/kustomization.yaml",
}


def _whole_bundle(variant: str) -> set[str]:
    """What a variant renders: by its topology (docs/topology.md)."""
    m = model.load(str(GOLDEN / variant / SPEC))
    t = m.topology
    if not t.split:
        own = {
            f"alerts/{variant}.rules.yml",
            f"alerts/tests/{variant}.test.yml",
            f"alerts/tests/{variant}.settled.test.yml",
            "deploy/generated/prometheusrule.yaml",
        }
    else:
        layer = (
            {f"deploy/generated/global/mimir-{variant}.yaml"}
            if t.evaluator == "mimir"
            else {
                "deploy/generated/global/prometheusrule.yaml",
                "deploy/generated/global/kustomization.yaml",
            }
        )
        own = {
            f"alerts/{variant}.cluster.rules.yml",
            f"alerts/{variant}.global.rules.yml",
            f"alerts/tests/{variant}.cluster.test.yml",
            f"alerts/tests/{variant}.global.test.yml",
            f"alerts/tests/{variant}.global.long.test.yml",
            "deploy/generated/prometheusrule-cluster.yaml",
            "deploy/generated/global/remote-write.yaml",
            *layer,
        }
    # The threshold groups alone, for hand-written tests, where the spec has cluster alerts.
    if any(a.scope == "cluster" for a in m.alerts):
        own.add(f"alerts/tests/{variant}.thresholds.rules.yml")
    return EVERY_BUNDLE | own


def test_every_variant_renders_the_whole_bundle(bundles: dict[str, Bundle]) -> None:
    for variant, files in bundles.items():
        assert set(files) == _whole_bundle(variant), variant


def test_update_golden_moves_a_file_into_shared_and_back(tmp_path: Path) -> None:
    """Variants that come to agree share one golden; when they differ again, each has its own."""
    for v in ("a", "b"):
        (tmp_path / v).mkdir()
        (tmp_path / v / SPEC).write_text("spec\n")
    rewrite(layout({"a": {"d/f": "1"}, "b": {"d/f": "2"}}), tmp_path)
    assert committed(tmp_path) == {"a/d/f": "1", "b/d/f": "2"}
    rewrite(layout({"a": {"d/f": "1"}, "b": {"d/f": "1"}}), tmp_path)
    assert committed(tmp_path) == {"_shared/d/f": "1"}
    assert not (tmp_path / "a" / "d").exists()  # emptied folders go too
    rewrite(layout({"a": {"d/f": "1"}, "b": {"d/f": "3"}}), tmp_path)
    assert committed(tmp_path) == {"a/d/f": "1", "b/d/f": "3"}
    assert not (tmp_path / SHARED).exists()
    assert [(tmp_path / v / SPEC).read_text() for v in "ab"] == ["spec\n", "spec\n"]
