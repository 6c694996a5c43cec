"""Charts as inline SVG text, drawn with matplotlib (the optional `report` extra).

matplotlib is imported on first use, so the other commands start without it.
Glyphs are drawn as paths (svg.fonttype "path"), so the HTML needs no font at view time,
and a fixed hash salt and no date make the same data give the same bytes.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from common.durations import DAY
from rulegen.errors import UsageError
from rulegen.report.client import Point

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_SIZE = (7.5, 2.4)  # inches; 540 x 173 pt, one chart per row of the page
_BLUE, _RED, _GREY = "#1f6feb", "#cf222e", "#8c959f"


def require() -> None:
    """UsageError unless matplotlib is installed (before any query is sent)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(
            "`idp-rulegen report` draws charts with matplotlib: "
            "pip install 'idp-slo[report]' (or the dev extra)"
        )


def _style() -> AbstractContextManager[None]:
    import matplotlib

    matplotlib.use("Agg")  # no display: draw to files only
    import matplotlib.pyplot as plt

    return plt.rc_context(
        {
            "svg.fonttype": "path",
            "svg.hashsalt": "idp-rulegen-report",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def _days(seconds: float) -> float:
    """matplotlib's date axis counts days since the Unix epoch (its default date.epoch)."""
    return seconds / DAY


def _svg(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    # Inline in HTML: drop the XML declaration and DOCTYPE, keep the <svg> element.
    return text[text.index("<svg") :]


def _time_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def burndown(points: Sequence[Point], title: str) -> str:
    """Budget remaining (share) over the period; the 0 line is where the SLO is missed."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    with _style():
        fig, ax = plt.subplots(figsize=_SIZE)
        times = [_days(t) for t, _ in points]
        values = [v for _, v in points]
        ax.plot(times, values, color=_BLUE, linewidth=1.5)
        ax.fill_between(times, values, 0, color=_BLUE, alpha=0.12)
        ax.axhline(0, color=_RED, linewidth=0.8)
        # Past -100 % the overspend is in the table; the chart keeps its scale readable.
        ax.set_ylim(max(-1.05, min(-0.05, min(values) - 0.05)), 1.05)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("budget left")
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color=_GREY, alpha=0.3)
        _time_axis(ax)
        return _svg(fig)


def daily_bars(points: Sequence[Point], title: str, ylabel: str) -> str:
    """One bar per day, each covering the day that ends at its timestamp."""
    import matplotlib.pyplot as plt

    with _style():
        fig, ax = plt.subplots(figsize=_SIZE)
        starts = [_days(t - DAY) for t, _ in points]
        ax.bar(starts, [v for _, v in points], width=0.8, align="edge", color=_BLUE)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color=_GREY, alpha=0.3)
        _time_axis(ax)
        return _svg(fig)
