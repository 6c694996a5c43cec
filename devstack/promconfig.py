"""prometheus.yml for the devstack's Prometheus servers: one scrape job, rule files, and,
for a cluster's Prometheus in split mode, its external labels and a remote_write that
ships only the base recordings to a central Prometheus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

# What crosses the wire in split mode: the two base recordings, nothing raw.
BASE_RECORDINGS = "slo:sli_(error|total)_events:.*"


def remote_write(url: str, keep: str = BASE_RECORDINGS) -> dict[str, Any]:
    """A remote_write entry keeping only the series named by `keep`. The queue sends every
    second (default: 5s) so the central Prometheus lags a test by about one interval."""
    return {
        "url": url,
        "write_relabel_configs": [
            {"source_labels": ["__name__"], "regex": keep, "action": "keep"},
        ],
        "queue_config": {
            "batch_send_deadline": "1s",
            "min_backoff": "100ms",
            "max_backoff": "1s",
        },
    }


def federation(ports: Sequence[int], match: str = BASE_RECORDINGS) -> dict[str, Any]:
    """A scrape job pulling the series named by `match` from the Prometheus servers on
    `ports` through /federate, their labels (the cluster external label too) kept."""
    return {
        "job_name": "federate",
        "honor_labels": True,
        "metrics_path": "/federate",
        "params": {"match[]": [f'{{__name__=~"{match}"}}']},
        "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports]}],
    }


def prometheus_config(
    *,
    interval: str,
    rule_files: Sequence[str] = (),
    targets: Sequence[int] = (),
    external_labels: dict[str, str] | None = None,
    remote_writes: Sequence[dict[str, Any]] = (),
    scrape_configs: Sequence[dict[str, Any]] = (),
) -> str:
    """Scrape `targets` (loopback ports) as job idp-exporter, and any `scrape_configs`,
    and evaluate `rule_files` every `interval`."""
    glob: dict[str, Any] = {"scrape_interval": interval, "evaluation_interval": interval}
    if external_labels:
        glob["external_labels"] = dict(external_labels)
    config: dict[str, Any] = {"global": glob, "rule_files": sorted(rule_files)}
    jobs = list(scrape_configs)
    if targets:
        static = [{"targets": [f"127.0.0.1:{port}" for port in targets]}]
        jobs.insert(0, {"job_name": "idp-exporter", "static_configs": static})
    if jobs:
        config["scrape_configs"] = jobs
    if remote_writes:
        config["remote_write"] = list(remote_writes)
    return yaml.safe_dump(config, sort_keys=False)
