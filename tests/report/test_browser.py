"""report.html opened in headless Chromium: the page renders and its charts are drawn."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from devstack.servers import require_binary
from tests.report.conftest import Generated

CHART_BLUE = (0x1F, 0x6F, 0xEB)  # the burn-down line's colour in charts.py


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("chromium"), "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_the_browser_sees_every_chart_as_inline_svg(generated: Generated) -> None:
    dom = _chromium("--dump-dom", (generated.dir / "report.html").as_uri()).stdout
    # The DOM after parsing: each chart's <figure> holds an <svg> with drawn paths.
    figures = dom.split('<figure class="chart"')[1:]
    assert len(figures) == 5
    for fig in figures:
        svg = fig.split("</figure>")[0]
        assert "<svg" in svg and svg.count("<path") > 10


def test_the_screenshot_shows_the_page_and_its_charts(generated: Generated, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    page = (generated.dir / "report.html").as_uri()
    _chromium(f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", page)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = tuple(int(c) for c in colours[counts.argmax()])
    drawn = int(len(pixels) - counts.max())
    blue = int((np.abs(pixels - CHART_BLUE).max(axis=1) <= 24).sum())
    print(f"screenshot: {drawn} of {len(pixels)} pixels drawn, {blue} in the chart line's blue")
    assert background == (255, 255, 255)
    assert drawn > len(pixels) // 20  # text, tables and charts, not a blank page
    assert blue > 1000  # the burn-down lines of the charts within the first 2000 px
