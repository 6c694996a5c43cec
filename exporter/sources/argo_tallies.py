"""The counters and histograms of one cluster: deployments and rollbacks seen so far.

Written by the workflow and ArgoCD ledgers (each decides *whether* to count), rendered
into catalog families here. Counters only ever grow; nothing is ever subtracted.
"""

from __future__ import annotations

from itertools import product

from prometheus_client.metrics_core import Metric

from common.catalog import DEPLOYMENT_BUCKETS, ROLLBACK_BUCKETS
from exporter.families import Histogram, histogram_family, samples

DEPLOYMENT_RESULTS = ("succeeded", "failed", "error")


class Tallies:
    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._deployments: dict[tuple[str, str, str], float] = {}
        self._deployment_durations: dict[tuple[str, str], Histogram] = {}
        self._rollbacks: dict[tuple[str, str, str], float] = {}
        self._rollback_durations: dict[tuple[str, str], Histogram] = {}

    def initialise(self, environments: list[str], templates: list[str]) -> None:
        """Expose zeros for every known label combination, so rates start from 0 rather
        than from the first deployment (and "no failures yet" is a 0, not a gap)."""
        for env, template, result in product(environments, templates, DEPLOYMENT_RESULTS):
            self._deployments.setdefault((env, template, result), 0.0)
        for env, template in product(environments, templates):
            self._deployment_durations.setdefault((env, template), Histogram(DEPLOYMENT_BUCKETS))

    def deployment(self, env: str, template: str, result: str, duration: float | None) -> None:
        key = (env, template, result)
        self._deployments[key] = self._deployments.get(key, 0.0) + 1
        if duration is not None:
            hist = self._deployment_durations.get((env, template))
            if hist is None:
                hist = self._deployment_durations[(env, template)] = Histogram(DEPLOYMENT_BUCKETS)
            hist.observe(duration)

    def rollback(self, env: str, mechanism: str, result: str, duration: float | None) -> None:
        key = (env, mechanism, result)
        self._rollbacks[key] = self._rollbacks.get(key, 0.0) + 1
        if duration is not None:
            hist = self._rollback_durations.get((env, mechanism))
            if hist is None:
                hist = self._rollback_durations[(env, mechanism)] = Histogram(ROLLBACK_BUCKETS)
            hist.observe(duration)

    def families(self) -> list[Metric]:
        c = self.cluster
        return [
            samples("idp_deployments_total", {(c, *k): v for k, v in self._deployments.items()}),
            histogram_family(
                "idp_deployment_duration_seconds",
                {(c, *k): h for k, h in self._deployment_durations.items()},
            ),
            samples("idp_rollbacks_total", {(c, *k): v for k, v in self._rollbacks.items()}),
            histogram_family(
                "idp_rollback_duration_seconds",
                {(c, *k): h for k, h in self._rollback_durations.items()},
            ),
        ]
