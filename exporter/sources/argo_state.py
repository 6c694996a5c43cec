"""What the exporter knows about one cluster's workflows, and when a completion counts.

Counting by observed transitions. For each deployment or rollback workflow (by UID):

- Seen in flight (Pending, Running or no phase yet) by this process -> the workflow is
  *watched*: every completion it shows from then on is counted whatever its timestamps
  say (result, and for a success finishedAt - startedAt, both from the controller's
  clock, so skew cancels out). The controller's clock can be minutes behind or ahead of
  ours; what we watched happen, happened after we started.
- Seen completed but never in flight (the initial list, a relist after 410 or an
  outage, a resync, or a workflow created already completed) -> counted only if
  finishedAt >= process start - CLOCK_SKEW_TOLERANCE. Older completions happened
  before this process existed; a previous process counted them, or nobody could.
- An attempt is identified by (UID, finishedAt): a completion whose finishedAt was
  already judged (counted or not) is never judged again. Re-sent, duplicated, reordered
  or relisted copies of a completion all carry the same finishedAt.
- `argo retry` (same UID, phase reset to "", finishedAt cleared) or a resubmit in place
  shows the workflow in flight again; its next completion has a new finishedAt and is
  counted as a new attempt. `argo resubmit` makes a new workflow (new UID): counted
  as any other.
- Deletion never decrements. A deleted UID's state is forgotten: UIDs are never reused.

The cases that break these rules (tested in tests/exporter/argo/test_counting.py):
- A retry that completes within the same whole second as the attempt before it carries
  the same finishedAt, so it is taken for a copy of that attempt and not counted.
- Watched stays set: a (theoretical) replay of an attempt that completed before the
  process started, never seen before and arriving after the workflow was seen in flight,
  would count. Lists are consistent reads and a watch is ordered per object, so only a
  lagging API server could send one.
- A completion that was never seen in flight and reads more than CLOCK_SKEW_TOLERANCE
  before the process start (a controller clock that far behind ours, around a
  restart) is not counted; one that really finished before the start but reads as after
  it (a clock ahead of ours) is.
- After a restart, completions in the CLOCK_SKEW_TOLERANCE before the start are counted
  again by the new process (the old one may have counted them too). The tolerance is
  kept small for that reason.
- Workflows that completed and were deleted while nothing watched are never counted:
  run two replicas (docs/counting.md).

Memory stays bounded by the workflows that exist: per deployment or rollback a watched
flag and the last MAX_ATTEMPTS finishedAt values, dropped with the object. Counters
restart from zero with the process; Prometheus' rate() handles the reset.

Records arrive per scope (one reflector = one namespace's workflows); a relist replaces
exactly that scope.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

from exporter.families import samples
from exporter.labelvalues import UNKNOWN
from exporter.sources.argo_tallies import Tallies
from exporter.sources.workflows import DEPLOYMENT, PHASES, ROLLBACK, Workflow

# How far before the process start a completion first seen already completed may read and
# still count. Covers clocks of NTP-synchronised nodes many times over and the seconds
# between the start and the end of the first list; larger would recount more of what a
# previous process already counted.
CLOCK_SKEW_TOLERANCE = 60.0

# Attempts remembered per workflow: a retried workflow rarely reaches this, and only a
# replay of an attempt older than the last MAX_ATTEMPTS could be counted again.
MAX_ATTEMPTS = 16


def first_seen_cutoff(process_start: float) -> float:
    """The earliest finishedAt (or deployedAt) counted when first seen completed.
    Kubernetes timestamps have whole seconds: one in the start second reads as that
    second, which is not before the start."""
    return math.floor(process_start) - CLOCK_SKEW_TOLERANCE


@dataclass(slots=True)
class _Attempts:
    watched: bool = False  # seen in flight by this process
    judged: tuple[float, ...] = ()  # finishedAt of the completions already judged


class WorkflowLedger:
    def __init__(self, process_start: float, tallies: Tallies) -> None:
        self._cutoff = first_seen_cutoff(process_start)
        self._tallies = tallies
        self._phase: dict[str, dict[str, tuple[str, str]]] = {}  # scope -> uid -> (ns, phase)
        self._gauge: dict[str, Counter[tuple[str, str]]] = {}  # scope -> (ns, phase) -> n
        self._attempts: dict[str, dict[str, _Attempts]] = {}  # scope -> uid -> attempts

    def replace(self, scope: str, records: Mapping[str, Workflow | None]) -> None:
        """A full list of `scope`: judge what it shows, forget what no longer exists.
        A None record is a malformed object: it exists, but is neither shown nor counted."""
        attempts = self._attempts.setdefault(scope, {})
        for uid in attempts.keys() - records.keys():
            del attempts[uid]
        phases: dict[str, tuple[str, str]] = {}
        gauge: Counter[tuple[str, str]] = Counter()
        for uid, wf in records.items():
            if wf is None:
                continue
            key = (wf.namespace, wf.phase)
            phases[uid] = key
            gauge[key] += 1
            if wf.role is not None:
                self._observe(attempts, uid, wf)
        self._phase[scope] = phases
        self._gauge[scope] = gauge

    def upsert(self, scope: str, uid: str, wf: Workflow | None) -> None:
        """An added or modified workflow; None (malformed) leaves the gauge, but what was
        judged for its UID is kept."""
        self._drop_phase(scope, uid)
        if wf is None:
            return
        key = (wf.namespace, wf.phase)
        self._phase.setdefault(scope, {})[uid] = key
        self._gauge.setdefault(scope, Counter())[key] += 1
        if wf.role is not None:
            self._observe(self._attempts.setdefault(scope, {}), uid, wf)

    def delete(self, scope: str, uid: str) -> None:
        self._drop_phase(scope, uid)
        self._attempts.get(scope, {}).pop(uid, None)

    def tracked(self) -> int:
        return sum(len(p) for p in self._phase.values())

    def remembered(self) -> int:
        return sum(len(a) for a in self._attempts.values())

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

    def _observe(self, attempts: dict[str, _Attempts], uid: str, wf: Workflow) -> None:
        """One observation of a deployment or rollback workflow (see the module docstring)."""
        state = attempts.get(uid)
        if state is None:
            state = attempts[uid] = _Attempts()
        result = wf.result
        if result is None:
            state.watched = True
            return
        finished = wf.finished
        if finished is None or finished in state.judged:
            # Unreadable (judged once an update brings a finishedAt), or a copy of an
            # attempt already judged.
            return
        counts = state.watched or finished >= self._cutoff
        state.judged = (*state.judged[-(MAX_ATTEMPTS - 1) :], finished)
        if not counts:
            return
        duration = None
        if result == "succeeded" and wf.started is not None:
            duration = finished - wf.started
        if wf.role == DEPLOYMENT:
            self._tallies.deployment(wf.environment, wf.template, result, duration)
        elif wf.role == ROLLBACK:
            self._tallies.rollback(wf.environment, "workflow", result, duration)
