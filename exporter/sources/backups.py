"""Backup freshness: status.lastSuccessfulTime of the configured CronJobs.

A configured CronJob that does not exist or has never succeeded is exposed as 0 once the
CronJobs have been listed: a freshness alert (`time() - x > 6h`) then fires, as it should,
instead of the series silently missing. Before the first successful list nothing is
exposed (we do not know yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import Metric

from exporter.families import samples
from exporter.sources import kube_fields as f


@dataclass(frozen=True, slots=True)
class CronJob:
    name: str
    last_success: float | None


def project_cronjob(obj: Mapping[str, Any]) -> CronJob:
    name = f.string(f.mapping(obj, "metadata"), "name")
    if not name:
        raise ValueError("CronJob without metadata.name")
    return CronJob(name, f.timestamp(f.mapping(obj, "status"), "lastSuccessfulTime"))


class BackupState:
    def __init__(self, namespace: str, cronjobs: list[str]) -> None:
        self._namespace = namespace
        self._wanted = tuple(cronjobs)
        self._jobs: dict[str, CronJob] = {}  # by UID
        self._listed = False

    # `scope` (the reflector) is accepted for symmetry with the other ledgers: there is
    # exactly one, the configured namespace.
    def replace(self, scope: str, records: Mapping[str, CronJob | None]) -> None:
        self._jobs = {uid: job for uid, job in records.items() if job is not None}
        self._listed = True

    def upsert(self, scope: str, uid: str, job: CronJob | None) -> None:
        if job is None:
            self._jobs.pop(uid, None)
        else:
            self._jobs[uid] = job

    def delete(self, scope: str, uid: str) -> None:
        self._jobs.pop(uid, None)

    def family(self, cluster: str) -> Metric:
        values: dict[tuple[str, ...], float] = {}
        if self._listed:
            last = {job.name: job.last_success for job in self._jobs.values()}
            for name in self._wanted:
                values[(cluster, self._namespace, name)] = last.get(name) or 0.0
        return samples("idp_backup_last_success_timestamp_seconds", values)
