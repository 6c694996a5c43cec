"""`make demo`: the e2e stack in the foreground with the repo's own rules and a scripted
incident, printing where to look and every alert as it fires. Ctrl-C stops it all.

    python -m devstack.demo [--duration SECONDS] [--clusters 3]

With `--clusters 3` it runs split mode instead: three clusters and a central Prometheus
(devstack/demo_clusters.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from devstack import demo_clusters
from devstack.servers import PrometheusServer
from devstack.stack import Stack, StackError, one_prometheus_rules

REPO = Path(__file__).resolve().parent.parent  # the checkout: its rules and dashboards


def scenario(stack: Stack, stop: threading.Event, say: Say) -> None:
    """Healthy traffic, then the health check fails, then deployments fail, then a slow
    rollback: each step is announced so its alerts can be matched to it."""
    assert stack.health is not None
    deployed = 0

    def deployments(seconds: float, failure_share: float) -> bool:
        nonlocal deployed
        owed = 0.0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            owed += failure_share
            fail = owed >= 1
            owed -= 1 if fail else 0
            stack.deploy("Failed" if fail else "Succeeded")
            deployed += 1
            if deployed % 5 == 0:
                stack.audit("deployment.trigger", "production")
            if stop.wait(0.5):
                return False
        return True

    say("scenario: healthy deployments, 2 per second")
    if not deployments(20, 0.0):
        return
    say("incident: the Backstage health check starts answering 500")
    stack.health.status = 500
    if not deployments(10, 0.0):
        return
    say("incident: 90% of deployments start failing")
    if not deployments(40, 0.9):
        return
    say("recovery: health check back; a rollback took 6m40s (slower than the 5m SLO)")
    stack.health.status = 200
    stack.deploy("Succeeded", template="rollback-standard", duration=400)
    deployments(float("inf"), 0.0)


class Say:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:5.1f}s] {text}", flush=True)


def firing_alerts(prometheus: PrometheusServer) -> dict[tuple[str, ...], str]:
    """The alerts firing now: their identity, and their name and labels as printed."""
    firing = {}
    for alert in prometheus.query('ALERTS{alertstate="firing"}'):
        labels = alert["metric"]
        assert isinstance(labels, dict)
        key = tuple(
            str(labels.get(k, ""))
            for k in ("alertname", "slo", "severity", "long_window", "target", "cluster")
        )
        detail = " ".join(
            f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("__name__", "alertstate")
        )
        firing[key] = f"{labels['alertname']} {detail}"
    return firing


def report_alerts(
    prometheus: PrometheusServer, deadline: float, say: Say, *, resolved: bool = False
) -> None:
    """Announce every alert the first time it fires (with `resolved`: every time it starts
    and stops firing), polling once a second until `deadline`."""
    seen: dict[tuple[str, ...], str] = {}
    while time.monotonic() < deadline:
        now = firing_alerts(prometheus)
        for key in sorted(now.keys() - seen.keys()):
            say(f"FIRING {now[key]}")
        if resolved:
            for key in sorted(seen.keys() - now.keys()):
                say(f"RESOLVED {seen[key]}")
            seen = now
        else:
            seen.update(now)
        time.sleep(1)


def single(deadline: float, say: Say) -> None:
    """The one-cluster stack with the repo's own rules and the scripted incident."""
    rules = one_prometheus_rules(REPO / "slo.yaml")
    say("starting: fake Kubernetes API, PostgreSQL, Redis, health check, idp-exporter, Prometheus")
    with Stack.up({"idp.rules.yml": rules}) as stack:
        assert stack.prometheus is not None
        say(f"Prometheus UI:   {stack.prometheus.url}/alerts")
        say(f"idp-exporter:    {stack.exporter_url}/metrics")
        say(
            f"dashboards:      {REPO / 'dashboards'} (provision with "
            f"dashboards/provisioning; no grafana-server is started)"
        )
        stop = threading.Event()
        incidents = threading.Thread(target=scenario, args=(stack, stop, say), daemon=True)
        incidents.start()
        try:
            report_alerts(stack.prometheus, deadline, say)
        finally:
            # The scenario writes to PostgreSQL and the fake API: it must end before
            # the stack closes them, or it dies with a traceback on the way out.
            stop.set()
            incidents.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    parser.add_argument(
        "--clusters",
        type=int,
        choices=(1, 3),
        default=1,
        help="3: split mode, three clusters remote-writing to a central Prometheus",
    )
    args = parser.parse_args()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    say = Say()
    deadline = time.monotonic() + args.duration if args.duration else float("inf")
    try:
        if args.clusters == 3:
            demo_clusters.run(
                say, lambda central: report_alerts(central, deadline, say, resolved=True)
            )
        else:
            single(deadline, say)
    except StackError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    say("stopped every process the demo started")
    return 0


if __name__ == "__main__":
    sys.exit(main())
