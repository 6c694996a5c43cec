"""Scrape latency of idp-exporter vs prometheus_client, and the Redis source vs redis_exporter.

Run: .venv/bin/python bench/exporter_scrape.py  (needs the local Redis on 127.0.0.1:6379;
Debian's prometheus-redis-exporter is used if installed.)

1. /metrics latency over loopback (median, p99) at 1k, 10k and 100k series served by the
   runtime (cached bytes), plain and gzip, against prometheus_client's generate_latest
   (and generate_latest + gzip) on the same series, in the same run.
2. The Redis source: cost of one refresh, and of one /metrics scrape of an exporter
   running it, against a scrape of redis_exporter on the same Redis.
3. Basic auth (1k series, a cost-10 bcrypt hash): an authorised scrape, quiet and while
   40 clients guess passwords as fast as they are answered, against a scrape without
   auth in the same run; and how many authorised scrapes were not answered 200.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable

import bcrypt
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter import families
from exporter.auth import BasicAuth
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


def _get(
    port: int,
    gzip_ok: bool,
    headers: dict[str, str] | None = None,
    statuses: list[int] | None = None,
) -> Callable[[], bytes]:
    """One GET /metrics on a kept-alive connection; asserts 200 unless `statuses` collects."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Accept-Encoding": "gzip" if gzip_ok else "identity", **(headers or {})}

    def get() -> bytes:
        conn.request("GET", "/metrics", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if statuses is None:
            assert resp.status == 200, resp.status
        else:
            statuses.append(resp.status)
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


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bench_auth(guessers: int = 40) -> None:
    print(f"\n== basic auth (cost 10): authorised scrapes, quiet and under {guessers} guessers")
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(10)).decode()
    runtime = Runtime([_Idle("bench")])
    channel = runtime.channel("bench")
    channel.publish(_series(1_000))
    channel.succeeded(0.0)
    runtime.render()
    open_server = MetricsServer(("127.0.0.1", 0), runtime)
    server = MetricsServer(("127.0.0.1", 0), runtime, auth=BasicAuth({"prom": hashed}))
    for s in (open_server, server):
        s.serve_in_thread()
    stop = threading.Event()

    def guess(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for k in itertools.count():
            if stop.is_set():
                return
            conn.request("GET", "/metrics", headers=_basic("prom", f"guess-{i}-{k}"))
            conn.getresponse().read()

    right = _basic("prom", "right")
    statuses: list[int] = []
    try:
        baseline = _time(_get(open_server.port, True), 300)
        quiet = _time(_get(server.port, True, right, statuses), 300)
        threads = [threading.Thread(target=guess, args=(i,)) for i in range(guessers)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # let the guessers fill the bcrypt queue
        flood_statuses: list[int] = []
        flood = _time(_get(server.port, True, right, flood_statuses), 100)
        stop.set()
        for t in threads:
            t.join()
    finally:
        for s in (open_server, server):
            s.shutdown()
            s.server_close()
    refused = sum(1 for status in flood_statuses if status != 200)
    print(f"{'variant':<52} {'median ms':>10} {'p99 ms':>9}")
    print(f"{'GET /metrics, no auth (baseline)':<52} {baseline[0]:>10.3f} {baseline[1]:>9.3f}")
    print(f"{'GET /metrics, basic auth, quiet':<52} {quiet[0]:>10.3f} {quiet[1]:>9.3f}")
    print(
        f"{'GET /metrics, basic auth, during the guessing':<52} {flood[0]:>10.3f} {flood[1]:>9.3f}"
    )
    print(
        f"ratio, median: quiet/baseline = {quiet[0] / baseline[0]:.2f}, "
        f"flood/baseline = {flood[0] / baseline[0]:.2f}; authorised scrapes not answered 200 "
        f"during the guessing: {refused} of {len(flood_statuses)}"
    )


if __name__ == "__main__":
    bench_scrape()
    bench_redis()
    bench_auth()
