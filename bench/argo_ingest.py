"""Argo source ingestion against the fake Kubernetes API, and a naive scrape-time lister.

Measures, for N realistic workflows (5-20 KB each, status.nodes included):
- initial sync: time from start to `ready` and the source process's peak RSS;
- watch ingestion: events/s applied from a backlog of M new completed deployments, by the
  wall clock and per CPU second of the collector process ("on one core": the collector is
  one Python process, held to one core by the GIL), and the fake API's CPU meanwhile, so
  the figures say which side was the bottleneck;
- the naive (Pelorus-style) collector: list every workflow at scrape time and count them,
  its time per scrape and peak RSS.

The fake API runs in its own process, and each measured collector in a fresh process, so
RSS and CPU belong to what is measured; on a machine with two or more CPUs the collectors
are pinned to one CPU and the fake API to another.

Baseline in the same run: each run measures the collector twice, as shipped (msgspec,
decoding only the fields the projection reads) and with the decoder it replaced (stdlib
json.loads of everything; `--no-baseline` skips it), alternating, against the same fake
API, and prints the ratio of the medians. Usage:

    python bench/argo_ingest.py [--workflows 10000 100000] [--events 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import workflow
from exporter.config import ArgoSourceConfig
from exporter.sources.argo import ArgoSource
from exporter.sources.base import Snapshot

EPOCH = time.time()
PHASES = ("Succeeded", "Succeeded", "Succeeded", "Failed", "Error", "Running")


def _population(n: int) -> Any:
    """n workflows finished before the epoch (not counted), 5-20 KB, mixed phases."""
    for i in range(n):
        yield workflow(
            f"deploy-{i:06d}",
            phase=PHASES[i % len(PHASES)],
            template="deployment-standard" if i % 4 else "nightly-report",
            started=EPOCH - 86400 + i % 50000,
            steps=6 + i % 20,
        )


def _cpu_seconds() -> float:
    """CPU time (user + system, all threads) of the calling process."""
    t = os.times()
    return t.user + t.system


def _pin(index: int) -> None:
    """Keep the calling process on one CPU: the collector on the first, the fake API on the
    second, so "on one core" is literal and the two never share one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, {cpus[index]})


def _serve(conn: Connection, n: int) -> None:
    """The fake API process: load n workflows, then obey commands from the parent."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    _pin(1)
    api = FakeKubeAPI(bookmark_interval=30.0).start()
    t0 = time.perf_counter()
    api.load(WORKFLOWS, _population(n))
    conn.send({"port": api.port, "load_seconds": time.perf_counter() - t0})
    burst = 0
    while True:
        cmd = conn.recv()
        if cmd[0] == "stop":
            api.stop()
            return
        if cmd[0] == "burst":
            # Queue M events while watches are held; "release" sends them all at once, so
            # the client's ingestion rate is measured, not the server's.
            api.stall_watches()
            for i in range(cmd[1]):
                api.create(
                    WORKFLOWS,
                    workflow(
                        f"burst-{burst}-{i:06d}",
                        started=EPOCH + 10,
                        finished=EPOCH + 70,
                        steps=6 + i % 20,
                    ),
                )
            burst += 1
            conn.send("ok")
        if cmd[0] == "release":
            # time.monotonic() is system-wide on Linux: the collector's clock is the same.
            released = {"at": time.monotonic(), "cpu": _cpu_seconds()}
            api.stall_watches(False)
            conn.send(released)
        if cmd[0] == "cpu":
            conn.send(_cpu_seconds())
        if cmd[0] == "cleanup":
            # Back to the initial population, so every run syncs the same n workflows.
            for name in [
                k[1] for k in list(api._coll(WORKFLOWS).objects) if k[1].startswith("burst-")
            ]:
                api.delete(WORKFLOWS, "argo", name)
            conn.send("ok")


class _Publisher:
    def __init__(self) -> None:
        self.ready_at: float | None = None
        self.counted = 0.0
        self.tracked = 0.0
        self.published_at = 0.0
        self.changed = threading.Event()

    def publish(self, snapshot: Snapshot) -> None:
        counted = tracked = 0.0
        for family in snapshot:
            for s in family.samples:
                if s.name == "idp_deployments_total":
                    counted += s.value
                elif s.name == "idp_workflows":
                    tracked += s.value
        self.counted, self.tracked = counted, tracked
        self.published_at = time.monotonic()
        self.changed.set()

    def succeeded(self, duration: float) -> None:
        pass

    def failed(self, reason: str, duration: float) -> None:
        print(f"  source failed: {reason}", file=sys.stderr)

    def ready(self) -> None:
        self.ready_at = time.perf_counter()


def _config(kubeconfig: Path) -> ArgoSourceConfig:
    return ArgoSourceConfig.model_validate(
        {
            "name": "bench",
            "type": "argo",
            "cluster": "bench",
            "kubeconfig": str(kubeconfig),
            "namespaces": ["argo"],
            "deployments": {"templates": ["deployment-standard"], "environments": ["production"]},
            "interval": "10m",
            "timeout": "30s",
        }
    )


def _use_decoder(name: str) -> None:
    """Make the reflector decode with `name` (in this collector process only)."""
    from exporter.sources import kube

    if name == "json":  # the decoder before msgspec: everything, with the stdlib
        kube._decode = lambda typed, raw: json.loads(raw)


def _run_source(conn: Connection, kubeconfig: str, decoder: str) -> None:
    """A collector process: initial sync, then ingest the burst the parent triggers."""
    _pin(0)
    _use_decoder(decoder)
    out = _Publisher()
    stop = threading.Event()
    source = ArgoSource(_config(Path(kubeconfig)), process_start=EPOCH, publish_every=0.05)
    start = time.perf_counter()
    thread = threading.Thread(target=source.run, args=(out, stop), daemon=True)
    thread.start()
    while out.ready_at is None:
        time.sleep(0.01)
    result: dict[str, Any] = {
        "ready_seconds": out.ready_at - start,
        "tracked": out.tracked,
        "rss_after_sync_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    conn.send(result)
    events = conn.recv()  # sent once the backlog is queued, before it is released
    cpu = _cpu_seconds()
    conn.send("armed")
    while out.counted < events:
        out.changed.wait(1)
        out.changed.clear()
    # Done when the snapshot counting the last event was published (at most
    # publish_every after it was applied, which this figure includes).
    result = {"done_at": out.published_at, "cpu_seconds": _cpu_seconds() - cpu}
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stop.set()
    thread.join(10)
    conn.send(result)


def _run_naive(conn: Connection, kubeconfig: str, scrapes: int) -> None:
    """The scrape-time approach: every scrape lists all workflows and counts them."""
    _pin(0)
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    new_client: Any = k8s_config.new_client_from_config
    api = k8s.CustomObjectsApi(new_client(kubeconfig))
    times = []
    for _ in range(scrapes):
        t0 = time.perf_counter()
        phases: Counter[str] = Counter()
        token = None
        while True:
            page: Any = api.list_namespaced_custom_object(
                "argoproj.io", "v1alpha1", "argo", "workflows", limit=500, _continue=token
            )
            for obj in page["items"]:
                phases[(obj.get("status") or {}).get("phase", "")] += 1
            token = page["metadata"].get("continue")
            if not token:
                break
        times.append(time.perf_counter() - t0)
    conn.send(
        {
            "scrape_seconds": times,
            "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def _child(target: Any, *args: Any) -> tuple[Any, Connection]:
    parent, child = mp.Pipe()
    proc = mp.Process(target=target, args=(child, *args))
    proc.start()
    return proc, parent


def _spread(values: list[float]) -> str:
    med = statistics.median(values)
    return f"median {med:8.2f}  min {min(values):8.2f}  max {max(values):8.2f}  (n={len(values)})"


DECODERS = {"msgspec": "as shipped (msgspec, projected fields)", "json": "baseline: json.loads"}
FIGURES = (
    ("ready", "time to ready (s)"),
    ("rss_sync", "peak RSS after sync MB"),
    ("rate", "watch events/s (wall)"),
    ("cpu_us", "collector CPU per event (us)"),
    ("one_core", "=> events/s on one core (CPU)"),
    ("busy", "collector cores busy (CPU / wall)"),
    ("api_us", "fake API CPU per event (us)"),
    ("rss_peak", "peak RSS at end MB"),
)


def _measure(ctl: Connection, path: str, n: int, events: int, decoder: str) -> dict[str, float]:
    """One collector process: sync n workflows, then ingest `events` watch events."""
    proc, conn = _child(_run_source, path, decoder)
    first = conn.recv()
    assert first["tracked"] == n, first
    ctl.send(("burst", events))
    ctl.recv()
    conn.send(events)
    conn.recv()
    ctl.send(("release",))
    released = ctl.recv()
    second = conn.recv()
    ctl.send(("cpu",))
    api_cpu = ctl.recv() - released["cpu"]
    wall = second["done_at"] - released["at"]
    proc.join()
    ctl.send(("cleanup",))
    ctl.recv()
    return {
        "ready": first["ready_seconds"],
        "rss_sync": first["rss_after_sync_mb"],
        "rate": events / wall,
        "cpu_us": second["cpu_seconds"] / events * 1e6,
        "one_core": events / second["cpu_seconds"],
        "busy": second["cpu_seconds"] / wall,
        "api_us": api_cpu / events * 1e6,
        "rss_peak": second["rss_peak_mb"],
    }


def bench(n: int, events: int, runs: int, naive_scrapes: int, decoders: list[str]) -> None:
    print(f"== {n:,} workflows (5-20 KB each), {events:,} watch events, {runs} runs")
    server, ctl = _child(_serve, n)
    info = ctl.recv()
    print(f"  fake API loaded in {info['load_seconds']:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = FakeKubeAPI(token="fake-token")
        kubeconfig.port = info["port"]
        path = str(kubeconfig.kubeconfig(Path(tmp) / "kubeconfig"))
        results: dict[str, list[dict[str, float]]] = {d: [] for d in decoders}
        for _ in range(runs):
            for decoder in decoders:  # alternating, so drift on the machine hits both
                results[decoder].append(_measure(ctl, path, n, events, decoder))
        for decoder in decoders:
            print(f"  -- {DECODERS[decoder]}")
            for key, label in FIGURES:
                values = [r[key] for r in results[decoder]]
                print(f"  idp-exporter {label:34} {_spread(values)}")
        if len(decoders) == 2:
            ours, base = (results[d] for d in decoders)
            for key, label in (("ready", "time to ready"), ("one_core", "events/s on one core")):
                ratio = statistics.median(r[key] for r in base) / statistics.median(
                    r[key] for r in ours
                )
                if key == "one_core":
                    ratio = 1 / ratio
                print(f"  ratio, {label}: {ratio:.2f}x better than the baseline")
        if naive_scrapes > 0:  # --naive-scrapes 0 skips the slow Pelorus-style lister
            proc, conn = _child(_run_naive, path, naive_scrapes)
            naive = conn.recv()
            proc.join()
            print(f"  naive list-per-scrape (s/scrape)    {_spread(naive['scrape_seconds'])}")
            print(f"  naive peak RSS MB                   {naive['rss_peak_mb']:.0f}")
    ctl.send(("stop",))
    server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-scrapes", type=int, default=3)
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the stdlib json.loads collector"
    )
    args = parser.parse_args()
    mp.set_start_method("fork")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(json.dumps({"python": sys.version.split()[0], "cpus": mp.cpu_count()}))
    for n in args.workflows:
        decoders = ["msgspec"] if args.no_baseline else ["msgspec", "json"]
        bench(n, args.events, args.runs, args.naive_scrapes, decoders)


if __name__ == "__main__":
    main()
