"""`make demo ARGS="--clusters 3"`: the three-cluster topology comes up, prints where to
look, the global SLO burns from us-west-1's failures, and every process stops. (The whole
scenario, a lost cluster included, is asserted by test_clusters.py.)"""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest


def test_cluster_demo_burns_the_global_budget_and_stops_everything() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--clusters", "3", "--duration", "45"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    out = proc.stdout
    incident = re.search(r"\[\s*([\d.]+)s\] incident: 80% of us-west-1's deployments fail", out)
    fired = re.search(
        r"\[\s*([\d.]+)s\] FIRING ErrorBudgetBurn .*slo=deployment-success slo_spec=clusters", out
    )
    assert incident and fired, out
    assert float(fired.group(1)) > float(incident.group(1))
    assert "FIRING SLOClusterMissing" not in out[: fired.start()], out  # none missing at start

    urls = re.findall(r"(?:Prometheus:?|idp-exporter)\s+(http://[\d.:]+)/", out)
    assert len(urls) == 7, out  # the central Prometheus, and per cluster two
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
    assert "stopped every process the demo started" in out
