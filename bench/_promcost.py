"""What a bench needs to measure rule evaluation in a real Prometheus 2.42 on history
(a library of bench/rule_cost.py and bench/split_cost.py, not a bench itself).

- `backfill`: history into TSDB directories with `promtool tsdb create-blocks-from
  openmetrics`, one OpenMetrics file per 2h block (promtool parses its whole input once
  per block it writes, so one big file would be parsed dozens of times);
- `Prom`: a Prometheus process on such a directory (devstack's harness), with its CPU
  read from /proc, instant and range queries and its own /metrics;
- `settle`: wait until the start-up compaction of the backfilled blocks is over, so the
  CPU measured is rule evaluation and ingestion, not compaction;
- `cpu_per_interval`: user+system CPU seconds per evaluation interval of several
  Prometheus processes, sampled over the same windows; `rule_seconds` the same from
  `prometheus_rule_group_last_duration_seconds` (wall time, a cross-check);
- `Exposition`: a live scrape target that serves what a callback renders, so the
  rules keep reading fresh samples after the history ends;
- `spread`: median (min-max), how every bench prints a figure.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TextIO

import httpx

from devstack.servers import PrometheusServer, wait_until

BLOCK = 7200  # promtool writes 2h blocks; a chunk of history is one block
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Writes the samples of [start, end) as OpenMetrics sample lines (no `# EOF`), one file
# per target directory, in one pass (so every target gets the same walk through the data).
ChunkWriter = Callable[[Sequence[TextIO], int, int], None]


def run(argv: Sequence[str], cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    """A subprocess whose failure stops the bench with its output."""
    done = subprocess.run(argv, capture_output=True, cwd=cwd, input=stdin, check=False)
    if done.returncode != 0:
        out = (done.stdout + done.stderr).decode(errors="replace")
        sys.exit(f"{' '.join(argv[:6])} failed ({done.returncode}):\n{out}")
    return done.stdout


def labels_text(labels: dict[str, str]) -> str:
    """`{a="x",b="y"}`, labels sorted (values here never need escaping)."""
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def backfill(targets: Sequence[Path], write: ChunkWriter, start: int, end: int) -> None:
    """Blocks for [start, end) into each target data directory, 2h at a time (`start`
    must be 2h-aligned, so that a chunk is exactly one block). promtool turns one chunk
    into blocks while the next is written: two cores, both busy."""
    if start % BLOCK:
        raise ValueError(f"start {start} is not aligned to {BLOCK}s")
    with tempfile.TemporaryDirectory(prefix="promcost-") as tmp:
        pending: list[subprocess.Popen[bytes]] = []
        for n, lo in enumerate(range(start, end, BLOCK)):
            texts = [Path(tmp) / f"chunk{n % 2}-{i}.om" for i in range(len(targets))]
            files = [t.open("w") for t in texts]
            write(files, lo, min(lo + BLOCK, end))
            for f in files:
                f.write("# EOF\n")
                f.close()
            _finish(pending)  # the previous chunk's files may be reused from here on
            pending = [_promtool(text, target) for text, target in zip(texts, targets, strict=True)]
        _finish(pending)


def _promtool(text: Path, target: Path) -> subprocess.Popen[bytes]:
    argv = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(text), str(target)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"promtool create-blocks-from openmetrics failed:\n{out.decode()}")


class Prom(PrometheusServer):
    """Prometheus on a data directory filled before it starts; compaction on (the
    backfilled 2h blocks merge as in a Prometheus that has run for days) unless
    `compact` is false, retention long enough to keep all of the history. It may be
    stopped and started again on the same data."""

    ready_timeout = 300.0  # loading days of blocks takes a while on a loaded machine

    def __init__(self, name: str, config: str, rules: str, compact: bool = True) -> None:
        super().__init__(config, {"rules.yml": rules})
        self.name = name
        self.compact = compact
        self.data.mkdir()

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def command(self) -> list[str]:
        keep = (
            []
            if self.compact
            else [f"--storage.tsdb.{b}-block-duration=2h" for b in ("min", "max")]
        )
        return [*super().command(), "--storage.tsdb.retention.time=30d", *keep]

    def query_at(self, expr: str, at: float) -> list[dict[str, object]]:
        """Instant query at time `at` (long timeout: it may read days)."""
        return self._api("query", {"query": expr, "time": at})

    def query_range(self, expr: str, start: int, end: int, step: int) -> list[dict[str, object]]:
        return self._api("query_range", {"query": expr, "start": start, "end": end, "step": step})

    def _api(self, path: str, params: dict[str, str | float]) -> list[dict[str, object]]:
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=300).json()
        if body.get("status") != "success":
            raise RuntimeError(f"{self.name}: {params['query']}: {body}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def cpu(self) -> float:
        """User+system CPU seconds of the process so far, from /proc/<pid>/stat."""
        assert self.proc is not None
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def value(self, expr: str) -> float:
        """The one value of an instant query that yields one series (or a scalar)."""
        result = self.query(expr)
        if len(result) != 1:
            raise RuntimeError(f"{self.name}: {expr} gave {len(result)} series")
        sample = result[0]["value"]
        assert isinstance(sample, list)
        return float(sample[1])

    def metrics(self, name: str) -> list[tuple[str, float]]:
        """(labels text, value) of every sample of `name` on its own /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        out = []
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                head, value = line.rsplit(" ", 1)
                out.append((head[len(name) :], float(value)))
        return out


def settle(proms: Iterable[Prom], quiet: float = 20.0, timeout: float = 900.0) -> None:
    """Wait until each Prometheus has compacted and then not for `quiet` seconds: its
    compaction loop (every minute) compacts plan after plan, each in a few seconds, so
    a pause means the plans ran out. Callers check `compactions` did not move after."""

    def state() -> tuple[float, ...]:
        return tuple(v for p in proms for _, v in p.metrics("prometheus_tsdb_compactions_total"))

    last, since = state(), time.monotonic()

    def quiet_now() -> bool:
        nonlocal last, since
        now = state()
        if now != last:
            last, since = now, time.monotonic()
        return all(now) and time.monotonic() - since >= quiet

    wait_until(quiet_now, timeout, "the backfilled blocks to be compacted", interval=5)


def cpu_per_interval(
    proms: Sequence[Prom], interval: float, window: float, windows: int
) -> dict[str, list[float]]:
    """CPU seconds per `interval` of each process, one figure per `window` (which must
    hold every group's evaluations in proportion, e.g. 2m for groups at 30 s and 2m)."""
    out: dict[str, list[float]] = {p.name: [] for p in proms}
    before = [p.cpu() for p in proms]
    end = time.monotonic()
    for _ in range(windows):
        end += window
        time.sleep(max(0.0, end - time.monotonic()))  # a measuring window, not a wait for state
        after = [p.cpu() for p in proms]
        for p, b, a in zip(proms, before, after, strict=True):
            out[p.name].append((a - b) * interval / window)
        before = after
    return out


def rule_seconds(prom: Prom, interval: float) -> dict[str, float]:
    """Seconds each rule group (by name) spends evaluating per `interval`: its last
    duration, scaled by how often it runs in `interval` (wall time: it includes waiting
    for a core)."""
    durations = dict(prom.metrics("prometheus_rule_group_last_duration_seconds"))
    every = dict(prom.metrics("prometheus_rule_group_interval_seconds"))
    return {
        labels.rsplit(";", 1)[1].rstrip('"}'): d * interval / every[labels]
        for labels, d in durations.items()
    }


def compactions(prom: Prom) -> float:
    return sum(v for _, v in prom.metrics("prometheus_tsdb_compactions_total"))


class Exposition:
    """A live scrape target: GET /<path> answers what `render(path)` returns then."""

    def __init__(self, render: Callable[[str], str]) -> None:
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:  # one render at a time: the callback advances shared state
                    body = render(self.path.lstrip("/")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def spread(values: Sequence[float], digits: int = 3, unit: str = "") -> str:
    """`median<unit> (min-max)`."""
    med = statistics.median(values)
    return f"{med:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"
