"""Scrape latency of idp-exporter vs prometheus_client, and the Redis source vs redis_exporter.

Run: .venv/bin/python bench/exporter_scrape.py  (needs the local Redis on 127.0.0.1:6379;
Debian's prometheus-redis-exporter is used if installed.)

1. /metrics latency over loopback (median, p99) at 1k, 10k and 100k series served by the
   runtime (cached bytes), plain and gzip, against prometheus_client's generate_latest
   (and generate_latest + gzip) on the same series, in the same run.
2. The Redis source: cost of one refresh, and of one /metrics scrape of an exporter
   running it, against a scrape of redis_exporter on the same Redis.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter import families
from exporter.config import RedisSourceConfig
from exporter.runtime import Runtime
from exporter.server import MetricsServer
from exporter.sources.redis import RedisSource

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SIZES = (1_000, 10_000, 100_000)


class _Idle:
    """A self-driven source that does nothing; the bench publishes through its channel."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, out: object, stop: object) -> None:
        stop.wait()  # type: ignore[attr-defined]


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def _series(n: int) -> list[Metric]:
    # idp_workflows{cluster, namespace, phase}: a catalog family with three labels.
    values = {(f"cluster-{i % 7}", f"namespace-{i}", "Running"): float(i) for i in range(n)}
    return [families.samples("idp_workflows", values)]


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return _stats(samples)


def _get(port: int, gzip_ok: bool) -> Callable[[], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept-Encoding": "gzip" if gzip_ok else "identity"}

    def get() -> bytes:
        conn.request("GET", "/metrics", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, resp.status
        return body

    return get


def bench_scrape() -> None:
    print("== /metrics over loopback: idp-exporter (cached bytes) vs prometheus_client")
    print(
        f"{'series':>8} {'variant':<34} {'median ms':>10} {'p99 ms':>9} {'bytes':>10}"
        f" {'x faster (median)':>18}"
    )
    for n in SIZES:
        metrics = _series(n)
        runtime = Runtime([_Idle("bench")])
        channel = runtime.channel("bench")
        channel.publish(metrics)
        channel.succeeded(0.0)
        started = time.perf_counter()
        runtime.render()
        render_ms = (time.perf_counter() - started) * 1000
        server = MetricsServer(("127.0.0.1", 0), runtime)
        server.serve_in_thread()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Fixed(metrics))
        repeat_fast = 300 if n < 100_000 else 100
        repeat_slow = 30 if n < 100_000 else 5
        try:
            ours = {
                False: (
                    _time(_get(server.port, False), repeat_fast),
                    len(_get(server.port, False)()),
                ),
                True: (_time(_get(server.port, True), repeat_fast), len(_get(server.port, True)())),
            }
            theirs = {
                False: (
                    _time(lambda r=registry: generate_latest(r), repeat_slow),
                    len(generate_latest(registry)),
                ),
                True: (
                    _time(lambda r=registry: gzip.compress(generate_latest(r)), repeat_slow),
                    len(gzip.compress(generate_latest(registry))),
                ),
            }
        finally:
            server.shutdown()
            server.server_close()
        for gz in (False, True):
            (o_med, o_p99), o_bytes = ours[gz]
            (t_med, t_p99), t_bytes = theirs[gz]
            tag = " + gzip" if gz else ""
            print(
                f"{n:>8} {'idp-exporter GET /metrics' + tag:<34} {o_med:>10.3f} {o_p99:>9.3f} {o_bytes:>10}"
            )
            print(
                f"{n:>8} {'generate_latest' + tag + ' (no HTTP)':<34} {t_med:>10.3f} {t_p99:>9.3f}"
                f" {t_bytes:>10} {t_med / o_med:>17.0f}x"
            )
        print(f"{n:>8} {'(one background re-render, all 4)':<34} {render_ms:>10.1f}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_redis() -> None:
    print("\n== Redis: idp-exporter's Redis source vs prometheus-redis-exporter, same Redis")
    source = RedisSource(
        RedisSourceConfig.model_validate({"name": "cache", "type": "redis", "url": REDIS_URL})
    )
    refresh = _time(source.refresh, 1000)
    runtime = Runtime([source])
    runtime.start()
    server = MetricsServer(("127.0.0.1", 0), runtime)
    server.serve_in_thread()
    try:
        deadline = time.monotonic() + 10
        while not runtime.is_ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        ours = _time(_get(server.port, False), 1000)
    finally:
        server.shutdown()
        server.server_close()
        runtime.stop()
    print(f"{'variant':<52} {'median ms':>10} {'p99 ms':>9}")
    print(
        f"{'idp-exporter Redis source: one refresh (INFO)':<52} {refresh[0]:>10.3f} {refresh[1]:>9.3f}"
    )
    print(
        f"{'idp-exporter GET /metrics with the Redis source':<52} {ours[0]:>10.3f} {ours[1]:>9.3f}"
    )

    binary = shutil.which("prometheus-redis-exporter") or shutil.which("redis_exporter")
    if binary is None:
        print(
            "prometheus-redis-exporter is NOT installed: no comparison "
            "(apt-get install -y --no-install-recommends prometheus-redis-exporter)"
        )
        return
    port = _free_port()
    addr = REDIS_URL.removesuffix("/0")
    proc = subprocess.Popen(
        [binary, f"-redis.addr={addr}", f"-web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        theirs = _time(_get(port, False), 300)
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"{'prometheus-redis-exporter GET /metrics (INFO at scrape)':<52} {theirs[0]:>10.3f} {theirs[1]:>9.3f}"
    )
    print(
        f"ratio, median: refresh/redis_exporter = {refresh[0] / theirs[0]:.3f}, "
        f"scrape/redis_exporter = {ours[0] / theirs[0]:.3f}"
    )


if __name__ == "__main__":
    bench_scrape()
    bench_redis()
