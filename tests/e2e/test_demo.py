"""`make demo`'s program brings the stack up, a real alert fires, and it cleans up."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest


def test_demo_fires_an_alert_within_a_minute_and_stops_everything() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.demo", "--duration", "40"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr  # the scenario ends before the stack
    out = proc.stdout
    fired = re.search(r"\[\s*([\d.]+)s\] FIRING ErrorBudgetBurn .*slo=backstage-availability", out)
    assert fired, out
    incident = re.search(r"\[\s*([\d.]+)s\] incident: the Backstage health check", out)
    assert incident, out
    assert float(fired.group(1)) - float(incident.group(1)) < 60
    print(
        f"\n[demo] availability page fired {float(fired.group(1)) - float(incident.group(1)):.1f}s "
        "after the health check failed"
    )

    prometheus = re.search(r"Prometheus UI:\s+(http://\S+)/alerts", out)
    exporter = re.search(r"idp-exporter:\s+(http://\S+)/metrics", out)
    assert prometheus and exporter, out
    for url in (prometheus.group(1), exporter.group(1)):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
    assert "stopped every process the demo started" in out
