"""A real Prometheus holding 30 days of backfilled history, and one report run against it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from devstack.servers import PrometheusServer, require_binary, started
from rulegen import model
from rulegen.cli import main
from rulegen.report import PrometheusClient, Window, figures, queries, run
from tests.report.history import END, START, Expected, History

SPEC = Path(__file__).with_name("history.yaml")
# The hidden flag keeps the 30 days in one block: promtool re-reads the whole input once
# per block, so 2h blocks would mean 360 passes over it.
MAX_BLOCK = "--max-block-duration=1458h"


class BackfilledPrometheus(PrometheusServer):
    """A Prometheus started on blocks made beforehand, which retention must not delete."""

    def __init__(self, blocks: Path, extra_flags: tuple[str, ...] = ()) -> None:
        super().__init__("global: {scrape_interval: 1m}\n")
        shutil.copytree(blocks, self.dir / "data")
        self.extra_flags = extra_flags

    def command(self) -> list[str]:
        return [*super().command(), "--storage.tsdb.retention.time=3650d", *self.extra_flags]


@pytest.fixture(scope="session")
def history() -> History:
    return History()


@pytest.fixture(scope="session")
def expected(history: History) -> Expected:
    return Expected(history)


@pytest.fixture(scope="session")
def blocks(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TSDB blocks of the history, made once by promtool from OpenMetrics text."""
    root = tmp_path_factory.mktemp("history")
    source = root / "history.om"
    source.write_text(history.openmetrics())
    out = root / "blocks"
    subprocess.run(
        [
            require_binary("promtool"),
            *("tsdb", "create-blocks-from", "openmetrics", MAX_BLOCK, "-q"),
            *(str(source), str(out)),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    source.unlink()  # 70 MB of text; the blocks are 400 kB
    return out


@pytest.fixture(scope="session")
def prometheus(blocks: Path) -> Iterator[BackfilledPrometheus]:
    server = started(BackfilledPrometheus(blocks))
    try:
        yield server
    finally:
        server.destroy()


@dataclass(frozen=True)
class Generated:
    dir: Path
    html: str
    markdown: str
    report: figures.Report  # the same figures, built again in-process for exact comparison


@pytest.fixture(scope="session")
def generated(
    prometheus: BackfilledPrometheus, tmp_path_factory: pytest.TempPathFactory
) -> Generated:
    out = tmp_path_factory.mktemp("report")
    result = CliRunner().invoke(
        main,
        [
            *("report", str(SPEC), "--prometheus", prometheus.url),
            *("--end", "2026-01-01T00:00:00Z", "-o", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    m = model.load(str(SPEC))
    plan = queries.plan(m, Window(START, END))
    with PrometheusClient(prometheus.url) as client:
        report = figures.build(m.name, client.url, plan, run(client, plan))
    return Generated(
        out, (out / "report.html").read_text(), (out / "report.md").read_text(), report
    )
