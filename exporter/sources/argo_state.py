"""What the exporter knows about one cluster's workflows, and the counter-epoch rule.

Counting (CONTRACT §5): a deployment or rollback workflow is counted once, by UID, when it
is first observed completed with status.finishedAt at or after `epoch` (the process
start) - on the live watch, on a relist after 410 or an outage, or on a resync alike.
One that finished before the epoch is never counted; deletion never decrements.

Memory stays bounded by the workflows that exist: a counted UID is forgotten as soon as
its object is deleted (a DELETED event, or absent from a relist), because a deleted
object's UID can never be listed or watched again - a new object always gets a new UID.

What a restart loses: workflows that finished while the exporter was not running, and
those that finished and were deleted while the API was unreachable, are never counted.
Counters restart from zero with the process; Prometheus' rate() handles the reset.

Records arrive per scope (one reflector = one namespace's workflows); a relist replaces
exactly that scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from prometheus_client.metrics_core import Metric

from exporter.families import samples
from exporter.labelvalues import UNKNOWN
from exporter.sources.argo_tallies import Tallies
from exporter.sources.workflows import DEPLOYMENT, PHASES, ROLLBACK, Workflow


class WorkflowLedger:
    def __init__(self, epoch: float, tallies: Tallies) -> None:
        self._epoch = epoch
        self._tallies = tallies
        self._phase: dict[str, dict[str, tuple[str, str]]] = {}  # scope -> uid -> (ns, phase)
        self._gauge: dict[str, Counter[tuple[str, str]]] = {}  # scope -> (ns, phase) -> n
        self._counted: dict[str, set[str]] = {}  # scope -> UIDs counted and still existing

    def replace(self, scope: str, records: Mapping[str, Workflow | None]) -> None:
        """A full list of `scope`: count new completions, forget what no longer exists.
        A None record is a malformed object: it exists, but is neither shown nor counted."""
        counted = self._counted.setdefault(scope, set())
        counted.intersection_update(records.keys())
        phases: dict[str, tuple[str, str]] = {}
        gauge: Counter[tuple[str, str]] = Counter()
        for uid, wf in records.items():
            if wf is None:
                continue
            key = (wf.namespace, wf.phase)
            phases[uid] = key
            gauge[key] += 1
            self._maybe_count(counted, uid, wf)
        self._phase[scope] = phases
        self._gauge[scope] = gauge

    def upsert(self, scope: str, uid: str, wf: Workflow | None) -> None:
        """An added or modified workflow; None (malformed) is dropped like a deletion,
        except that its UID stays remembered if it was already counted."""
        self._drop_phase(scope, uid)
        if wf is None:
            return
        key = (wf.namespace, wf.phase)
        self._phase.setdefault(scope, {})[uid] = key
        self._gauge.setdefault(scope, Counter())[key] += 1
        self._maybe_count(self._counted.setdefault(scope, set()), uid, wf)

    def delete(self, scope: str, uid: str) -> None:
        self._drop_phase(scope, uid)
        self._counted.get(scope, set()).discard(uid)

    def tracked(self) -> int:
        return sum(len(p) for p in self._phase.values())

    def remembered(self) -> int:
        return sum(len(c) for c in self._counted.values())

    def family(self, cluster: str, namespaces: list[str]) -> Metric:
        """idp_workflows: every standard phase of every watched namespace (0 if none)."""
        values: dict[tuple[str, ...], float] = {
            (cluster, ns, phase): 0.0 for ns in namespaces for phase in PHASES
        }
        for gauge in self._gauge.values():
            for (ns, phase), n in gauge.items():
                if n or phase != UNKNOWN:
                    key = (cluster, ns, phase)
                    values[key] = values.get(key, 0.0) + n
        return samples("idp_workflows", values)

    def _drop_phase(self, scope: str, uid: str) -> None:
        old = self._phase.get(scope, {}).pop(uid, None)
        if old is not None:
            gauge = self._gauge[scope]
            gauge[old] -= 1
            if not gauge[old]:
                del gauge[old]

    def _maybe_count(self, counted: set[str], uid: str, wf: Workflow) -> None:
        result = wf.result
        if wf.role is None or result is None or uid in counted:
            return
        if wf.finished is None or wf.finished < self._epoch:
            return
        counted.add(uid)
        duration = None
        if result == "succeeded" and wf.started is not None:
            duration = wf.finished - wf.started
        if wf.role == DEPLOYMENT:
            self._tallies.deployment(wf.environment, wf.template, result, duration)
        elif wf.role == ROLLBACK:
            self._tallies.rollback(wf.environment, "workflow", result, duration)
