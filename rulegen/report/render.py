"""Report -> report.html (self-contained, charts inline) and report.md, via jinja2 templates.

The templates hold only human text; every number they print comes from figures.Report,
formatted by the filters below, and cites its query's number in the appendix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from common.durations import format_seconds
from rulegen import naming
from rulegen.promql import number as decimal
from rulegen.report import charts
from rulegen.report.figures import Report

_TEMPLATES = Path(__file__).parent / "templates"
GENERATED = naming.HEADER.removeprefix("# ").strip()


def percent(value: float | None, digits: int = 3) -> str:
    """99.512 %; None is "no data" so that a missing SLI never reads as attained."""
    if value is None:
        return "no data"
    return f"{value * 100:.{digits}f} %"


def count(value: float | None) -> str:
    if value is None:
        return "no data"
    rounded = round(value)
    # increase() of a counter is whole unless Prometheus had to extrapolate.
    return f"{rounded:,}" if abs(value - rounded) < 1e-6 else f"{value:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    return "no data" if value is None else f"{value:,.{digits}f}"


def seconds(value: float | None) -> str:
    """`28m47s (1,726.7 s)`: the readable form, rounded to the second, then the exact one."""
    if value is None:
        return "no data"
    exact = f"{value:,.0f} s" if value == int(value) else f"{value:,.1f} s"
    if value < 60:
        return exact
    return f"{format_seconds(round(value))} ({exact})"


def timestamp(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        percent=percent,
        count=count,
        number=number,
        seconds=seconds,
        timestamp=timestamp,
        duration=format_seconds,
        decimal=decimal,
    )
    env.globals["generated"] = GENERATED
    return env


def _charts(report: Report) -> dict[str, str]:
    """SVG text by chart name: `burndown:<slo>` per SLO with data, `deploys_daily`."""
    out = {}
    for s in report.slos:
        if s.burndown:
            out[f"burndown:{s.queries.slo.name}"] = charts.burndown(
                s.burndown, f"{s.queries.slo.name}: error budget left"
            )
    if report.deploys_daily:
        out["deploys_daily"] = charts.daily_bars(
            report.deploys_daily, "Deployments per day", "deployments"
        )
    return out


def html(report: Report) -> str:
    svg = _charts(report)
    template = _environment(autoescape=True).get_template("report.html.j2")
    return template.render(r=report, charts={k: Markup(v) for k, v in svg.items()})


def markdown(report: Report) -> str:
    text = _environment(autoescape=False).get_template("report.md.j2").render(r=report)
    return text.rstrip("\n") + "\n"
