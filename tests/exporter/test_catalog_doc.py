"""docs/metrics.md lists exactly the catalog: names, types, labels, help and buckets.

The table between the markers is generated from common/catalog.py; regenerate it with
`pytest --update-golden` (the same switch as the other golden files).
"""

from __future__ import annotations

from pathlib import Path

from common.catalog import FAMILIES

DOC = Path(__file__).resolve().parent.parent.parent / "docs" / "metrics.md"
BEGIN = "<!-- catalog:begin (generated from common/catalog.py) -->\n"
END = "<!-- catalog:end -->\n"


def table() -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for f in FAMILIES:
        meaning = f.help
        if f.buckets:
            meaning += " Buckets: " + ", ".join(f"{b:g}" for b in f.buckets) + "."
        labels = ", ".join(f.labels)
        rows.append(f"| `{f.name}` | {f.kind.value} | {labels} | {meaning} |")
    return "\n".join(rows) + "\n"


def test_metrics_doc_matches_the_catalog(update_golden: bool) -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    expected = head + BEGIN + table() + END + tail
    if update_golden:
        DOC.write_text(expected)
        text = expected
    assert text == expected, "docs/metrics.md is stale: rerun with pytest --update-golden"
