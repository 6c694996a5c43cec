"""`idp-rulegen report`: an SLO, delivery, compliance and capacity report for one period.

Data flows one way: queries.plan (every PromQL query, named) -> run (the client sends
them) -> figures.build (pure arithmetic) -> render (HTML with inline charts, Markdown)
-> write. Nothing is written unless every query answered and both files rendered.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rulegen.model import Model
from rulegen.report import charts, figures, queries, render
from rulegen.report.client import PrometheusClient, ReportError, Series
from rulegen.report.queries import Query, Window

__all__ = ["PrometheusClient", "ReportError", "Window", "generate"]

FILES = ("report.html", "report.md")


def run(client: PrometheusClient, plan: queries.Plan) -> dict[Query, list[Series]]:
    """Every query of the plan, answered; the first failure raises ReportError."""
    window = plan.window
    results: dict[Query, list[Series]] = {}
    for q in plan.all():
        if q.is_range:
            assert q.step is not None and q.start is not None
            results[q] = client.range(q.promql, q.start, window.end, q.step)
        else:
            results[q] = client.instant(q.promql, window.end)
    return results


def write(directory: Path, files: dict[str, str]) -> list[Path]:
    """Write each file beside its final name, then rename: a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a report meant to be shared
            staged.append((tmp, directory / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
    return [final for _, final in staged]


def generate(model: Model, client: PrometheusClient, window: Window, out: Path) -> list[Path]:
    charts.require()
    plan = queries.plan(model, window)
    report = figures.build(model.name, client.url, plan, run(client, plan))
    return write(out, {"report.html": render.html(report), "report.md": render.markdown(report)})
