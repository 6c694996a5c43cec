"""The Argo source: one Kubernetes cluster's workflows, ArgoCD applications and backups.

Data flows one way:

    reflector threads (kube.py: list+watch, project each object to a small record)
      -> one queue -> this thread: ledgers (counting) -> families -> Publisher

Only this thread touches the ledgers, so they need no locks. Snapshots are published at
most every `publish_every` seconds however fast events arrive, and only when something
changed.

Health (what the runtime turns into idp_exporter_source_*):
- `succeeded` after a list (initial, relist or resync) when every reflector of the
  cluster is healthy; `failed(reason)` on every failed list/watch attempt. A cluster is up
  only if all of its collections are readable (e.g. a 403 on applications marks it down).
- `ready` once every reflector's first list finished, successfully or not (or at once if
  no client can be built, e.g. a wrong kubeconfig context).
- A malformed object is skipped (or kept in part, e.g. a workflow without finishedAt
  stays in idp_workflows), logged once and counted with `count_error("parse")` (kube.py):
  one bad workflow is an error, not an outage, so the cluster stays up and keeps its
  samples.
- What is counted, and when, is decided by the ledgers: argo_state.py (workflows) and
  argocd.py (rollbacks); docs/counting.md explains it for users.
- Snapshots are published only while every collection is healthy. The runtime withdraws
  a source's samples on `failed` (stale data is worse than none) and they come back, with
  everything counted meanwhile, at the first publish after recovery.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from prometheus_client.metrics_core import Metric

from exporter.config import ArgoSourceConfig
from exporter.sources.argo_state import WorkflowLedger
from exporter.sources.argo_tallies import Tallies
from exporter.sources.argocd import ApplicationLedger, ApplicationProjector
from exporter.sources.backups import BackupState, project_cronjob
from exporter.sources.base import Publisher
from exporter.sources.kube import (
    MAX_BACKOFF,
    Backoff,
    Deleted,
    Event,
    Failed,
    Listed,
    Malformed,
    Reflector,
    Resource,
    Upserted,
)
from exporter.sources.kube_client import api_client, classify, describe
from exporter.sources.workflows import WorkflowProjector, WorkflowShape

log = logging.getLogger(__name__)

ARGO = ("argoproj.io", "v1alpha1")
LINGER = 0.01  # seconds _drain waits for more events after the first (see there)


class _Ledger(Protocol):
    def replace(self, scope: str, records: Mapping[str, Any], /) -> None: ...
    def upsert(self, scope: str, uid: str, record: Any, /) -> None: ...
    def delete(self, scope: str, uid: str, /) -> None: ...


class ArgoSource:
    def __init__(
        self,
        cfg: ArgoSourceConfig,
        *,
        process_start: float,
        publish_every: float = 0.2,
        page_size: int = 500,
    ) -> None:
        self.name = cfg.name
        self._cfg = cfg
        self._publish_every = publish_every
        self._page_size = page_size
        environments = cfg.deployments.environments
        self._tallies = Tallies(cfg.cluster)
        self._tallies.initialise(environments, cfg.deployments.templates)
        self.workflows = WorkflowLedger(process_start, self._tallies)
        self._backups = (
            BackupState(cfg.backups.namespace, cfg.backups.cronjobs) if cfg.backups else None
        )
        project_workflow = WorkflowProjector(
            cfg.deployments.templates,
            cfg.deployments.label_selector,  # already validated by config
            cfg.deployments.environment_parameter,
            environments,
            cfg.rollbacks.templates if cfg.rollbacks else None,
            cfg.rollbacks.environment_parameter if cfg.rollbacks else "environment",
        )
        # (what, its projection, the shape it reads (None: all), the ledger it feeds)
        self._collections: list[tuple[Resource, Any, Any, _Ledger]] = [
            (Resource(*ARGO, "workflows", ns), project_workflow, WorkflowShape, self.workflows)
            for ns in dict.fromkeys(cfg.namespaces)
        ]
        if cfg.argocd:
            self._collections.append(
                (
                    Resource(*ARGO, "applications", cfg.argocd.namespace),
                    ApplicationProjector(cfg.argocd.environment_label, environments),
                    None,
                    ApplicationLedger(process_start, self._tallies),
                )
            )
        if self._backups and cfg.backups:
            self._collections.append(
                (
                    Resource("batch", "v1", "cronjobs", cfg.backups.namespace),
                    project_cronjob,
                    None,
                    self._backups,
                )
            )

    # -- the runtime's entry point -----------------------------------------------------

    def run(self, out: Publisher, stop: threading.Event) -> None:
        try:
            api = self._connect(out, stop)
            if api is not None:
                try:
                    self._follow(api, out, stop)
                finally:
                    api.close()
        except Exception:  # a bug must not kill the runtime's thread silently
            log.exception("%s: source stopped by an unexpected error", self.name)
            out.failed("other", 0.0)
            out.ready()

    def snapshot(self) -> list[Metric]:
        families = self._tallies.families()
        families.append(self.workflows.family(self._cfg.cluster, list(self._cfg.namespaces)))
        if self._backups is not None:
            families.append(self._backups.family(self._cfg.cluster))
        return families

    # -- steps --------------------------------------------------------------------------

    def _connect(self, out: Publisher, stop: threading.Event) -> Any:
        """An ApiClient, retrying with backoff; None if stopped first."""
        backoff = Backoff(min(self._cfg.interval, MAX_BACKOFF))
        told_ready = False
        while not stop.is_set():
            started = time.monotonic()
            try:
                return api_client(
                    self._cfg.kubeconfig, self._cfg.context, pool_size=len(self._collections) + 1
                )
            except Exception as exc:
                log.warning(
                    "%s: cannot configure the Kubernetes client (kubeconfig %s, context %s): %s",
                    self.name,
                    self._cfg.kubeconfig or "in-cluster",
                    self._cfg.context or "current",
                    describe(exc),
                )
                out.failed(classify(exc), time.monotonic() - started)
                if not told_ready:
                    out.ready()
                    told_ready = True
                stop.wait(backoff.next())
        return None

    def _follow(self, api: Any, out: Publisher, stop: threading.Event) -> None:
        events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        ledgers = {res.key: ledger for res, _, _, ledger in self._collections}
        reflectors = [
            Reflector(
                api,
                res,
                project,
                events.put,
                resync=self._cfg.interval,
                timeout=self._cfg.timeout,
                page_size=self._page_size,
                cluster=self._cfg.cluster,
                shape=shape,
            )
            for res, project, shape, _ in self._collections
        ]
        threads = [
            threading.Thread(
                target=r.run, args=(stop,), name=f"{self.name}/{r.resource.key}", daemon=True
            )
            for r in reflectors
        ]
        for t in threads:
            t.start()
        health = _Health(out, set(ledgers))
        last_publish = 0.0
        dirty = False
        try:
            while not stop.is_set():
                batch = _drain(events, stop)
                for event in batch:
                    dirty |= self._apply(event, ledgers, health)
                health.report()
                now = time.monotonic()
                due = now - last_publish >= self._publish_every
                if health.all_reported and not health.told_ready:
                    if health.healthy:
                        out.publish(self.snapshot())
                        last_publish, dirty = now, False
                    out.ready()
                    health.told_ready = True
                elif dirty and health.told_ready and health.healthy and due:
                    out.publish(self.snapshot())
                    last_publish, dirty = now, False
        finally:
            for r in reflectors:
                r.abort()
            for t in threads:
                t.join(timeout=self._cfg.timeout + 1)

    def _apply(self, event: Event, ledgers: Mapping[str, _Ledger], health: _Health) -> bool:
        """Apply one reflector event; True if the exposed state may have changed."""
        key = event.resource.key
        if isinstance(event, Listed):
            ledgers[key].replace(key, event.records)
            health.listed(key, event.duration, event.malformed)
            log.debug("%s: listed %d %s", self.name, len(event.records), key)
            return True
        if isinstance(event, Upserted):
            ledgers[key].upsert(key, event.uid, event.record)
            if event.reported:
                health.malformed()
            return True
        if isinstance(event, Deleted):
            ledgers[key].delete(key, event.uid)
            return True
        if isinstance(event, Failed):
            health.failed(key, event.reason, event.duration)
            return False
        if isinstance(event, Malformed):
            health.malformed()
        return False


class _Health:
    """Turns reflector outcomes into Publisher calls (see the module docstring)."""

    def __init__(self, out: Publisher, keys: set[str]) -> None:
        self._out = out
        self._healthy = dict.fromkeys(keys, False)
        self._unreported = set(keys)
        self._parse_errors = 0
        self._succeeded: float | None = None  # duration of the last good list, to report
        self._last_duration = 0.0
        self.told_ready = False

    @property
    def all_reported(self) -> bool:
        return not self._unreported

    @property
    def healthy(self) -> bool:
        return all(self._healthy.values())

    def listed(self, key: str, duration: float, malformed: int) -> None:
        self._unreported.discard(key)
        self._healthy[key] = True
        self._parse_errors += malformed
        self._succeeded = self._last_duration = duration

    def failed(self, key: str, reason: str, duration: float) -> None:
        self._unreported.discard(key)
        self._healthy[key] = False
        self._out.failed(reason, duration)

    def malformed(self) -> None:
        self._parse_errors += 1

    def report(self) -> None:
        """Flush what a batch of events amounted to: parse errors, then recovery."""
        for _ in range(self._parse_errors):
            self._out.count_error("parse")
        if self._succeeded is not None and self.healthy:
            self._out.succeeded(self._last_duration)
        self._parse_errors = 0
        self._succeeded = None


def _drain(events: queue.SimpleQueue[Event], stop: threading.Event) -> list[Event]:
    """The events available now (waiting briefly for the first), at most a few thousand.

    After the first event it lingers a moment so that a burst is applied in batches:
    waking this thread once per event (a thread switch and a GIL handoff each) cost
    about 15% of an event's CPU. The linger is far below `publish_every`, so it delays
    nothing a scrape can see."""
    try:
        batch = [events.get(timeout=0.05)]
    except queue.Empty:
        return []
    stop.wait(LINGER)
    while len(batch) < 5000 and not stop.is_set():
        try:
            batch.append(events.get_nowait())
        except queue.Empty:
            break
    return batch
