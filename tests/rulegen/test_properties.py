"""Property: every valid spec renders rules promtool accepts, and generated tests that pass.

Hypothesis builds specs with awkward user strings (quotes, backslashes, `{{`, unicode) in
label values, matchers and descriptions; the renders are then checked by one promtool
call each, batched to keep the suite fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulegen import bundle, model, naming, promql, writer

from .helpers import run_promtool

TEXT = st.text(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), max_size=10)
LABEL = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in naming.RESERVED_LABELS
)
METRIC = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).map(lambda s: f"app_{s}")


@st.composite
def selector(draw: st.DrawFn, suffix: str = "") -> str:
    name = draw(METRIC) + suffix
    labels = draw(st.dictionaries(LABEL, TEXT, max_size=2))
    ops = draw(st.lists(st.sampled_from(["=", "!="]), min_size=len(labels), max_size=len(labels)))
    inner = ",".join(
        f"{k}{op}{promql.string(v)}" for (k, v), op in zip(labels.items(), ops, strict=True)
    )
    return f"{name}{{{inner}}}" if inner else name


@st.composite
def sli(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ratio", "latency", "probe", "raw"]))
    group_by = draw(st.lists(LABEL, max_size=2, unique=True))
    if kind == "ratio":
        return {
            "ratio": {
                "errors": draw(selector("_errors_total")),
                "total": draw(selector("_total")),
                "group_by": group_by,
            }
        }
    if kind == "latency":
        threshold = draw(st.sampled_from([0.1, 0.25, 0.5, 1, 2.5, "900s", "250ms", "5m"]))
        return {
            "latency": {
                "histogram": draw(selector("_seconds")),
                "threshold": threshold,
                "group_by": group_by,
            }
        }
    if kind == "probe":
        return {"probe": {"metric": draw(selector("_up")), "group_by": group_by}}
    errors, total = draw(selector("_errors_total")), draw(selector("_total"))
    return {
        "raw": {"errors": f"sum(rate({errors}[$window]))", "total": f"sum(rate({total}[$window]))"}
    }


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    slos = []
    names = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    for name in names:
        slo: dict[str, Any] = {
            "name": name,
            "description": draw(TEXT),
            "objective": float(draw(st.decimals(min_value="93.1", max_value="99.99", places=2))),
            "sli": draw(sli()),
        }
        if draw(st.booleans()):
            slo["window"] = draw(st.sampled_from(["1d", "3d", "7d", "14d", "28d", "30d", "90d"]))
        if draw(st.booleans()):
            slo["alerting"] = {
                "page": draw(st.booleans()),
                "labels": draw(
                    st.dictionaries(
                        LABEL, TEXT.filter(lambda t: "{{" not in t and t != ""), max_size=2
                    )
                ),
                "tiers": {"page-fast": {"for": draw(st.sampled_from(["1m", "2m", "5m"]))}},
            }
        slos.append(slo)
    return {
        "apiVersion": "idp-slo/v1",
        "kind": "SLOSpec",
        "metadata": {
            "name": "prop",
            "labels": draw(
                st.dictionaries(LABEL, TEXT.filter(lambda t: "{{" not in t and t != ""), max_size=2)
            ),
        },
        "defaults": {
            "scrape_interval": draw(st.sampled_from(["15s", "30s", "1m"])),
            "runbook_url": "https://r.example/{runbook}",
        },
        "slos": slos,
        "alerts": [
            {
                "name": "AnyAlert",
                "expr": f"{draw(selector())} > 1",
                "severity": "info",
                "summary": draw(TEXT) + ".",
            }
        ],
    }


def test_any_valid_spec_renders_rules_and_tests_promtool_accepts(
    tmp_path: Path, promtool: str
) -> None:
    roots: list[Path] = []

    # derandomize: the same 25 specs every run, so CI time and outcome are reproducible.
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(specs())
    def render(doc: dict[str, Any]) -> None:
        root = tmp_path / f"case{len(roots)}"
        root.mkdir()
        path = root / "spec.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
        files = bundle.render(model.load(str(path)))
        writer.write(root, files)
        roots.append(root)

    render()
    assert len(roots) >= 10
    rules = [str(r / "alerts" / "prop.rules.yml") for r in roots]
    checked = run_promtool(promtool, "check", "rules", *rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Running the generated tests costs seconds per bundle; every fifth keeps it quick.
    tests = [
        str(f) for r in roots[::5] for f in sorted((r / "alerts" / "tests").glob("*.test.yml"))
    ]
    tested = run_promtool(promtool, "test", "rules", *tests)
    failed = [
        ln
        for ln in (tested.stdout + tested.stderr).splitlines()
        if "FAILED" in ln or "alertname:" in ln or "expr:" in ln
    ]
    assert tested.returncode == 0, "\n".join(failed[:40])
