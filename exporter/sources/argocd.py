"""ArgoCD Applications -> rollbacks, from status.history.

ArgoCD persists no rollback flag (a rollback is "just a sync" to an older revision). It
appends a history entry after every successful sync, with ids that only grow, and keeps
the last `revisionHistoryLimit` entries (10 by default). The rule:

    A new entry is a rollback when its revision was first deployed before the revision
    of the entry it replaces (the one right before it).

"First deployed" is the smallest history id the exporter has seen with that revision.
History [1:X, 2:Y, 3:X, 4:Y]: entry 3 deploys X (first at 1) over Y (first at 2), a
rollback; entry 4 deploys Y (2) over X (1), a roll-forward, not one. Re-syncing the
current revision is not one either. Duration = deployedAt - deployStartedAt (none when
deployStartedAt is absent, as in ArgoCD releases before it existed).

Trimming: the first-deployed order lives in the exporter, per application, so it
survives entries falling off the front of the history for as long as the process runs
(at most MAX_REVISIONS revisions per application; those in the current history are never
dropped). What it never saw it cannot know: on the first observation of an application
(e.g. at startup) the order starts from the history shown then; if more syncs than the
limit happened while nothing watched, the oldest new entry is compared with the newest
entry seen before.

Counting: each (application UID, history id) is judged once, as history ids only grow.
Entries that appear after the application was first observed are live syncs and count
whatever their timestamps; on the first observation an entry counts only if deployedAt
is at or after the process start less the clock-skew tolerance (the workflows' rule, see
argo_state.py).

One malformed entry is reported (parse error) and affects only itself: without a usable
id or revision it is skipped; without a readable deployedAt it still takes its place in
the order and, if it is a live rollback, counts without a duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.sources import kube_fields as f
from exporter.sources.argo_state import first_seen_cutoff
from exporter.sources.argo_tallies import Tallies
from exporter.sources.environments import fold_environment

# Revisions whose first-deployed id an application remembers (10 are in its history).
MAX_REVISIONS = 64

Revision = tuple[str, ...]  # `revision`, or `revisions` of a multi-source application


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    revision: Revision
    deployed: float | None
    started: float | None


@dataclass(frozen=True, slots=True)
class Application:
    environment: str
    history: tuple[Entry, ...]  # sorted by id


class ApplicationProjector:
    def __init__(self, environment_label: str, environments: list[str]) -> None:
        self._label = environment_label
        self._environments = frozenset(environments)

    def __call__(self, obj: Mapping[str, Any]) -> Application:
        labels = f.labels(f.mapping(obj, "metadata"))
        history = f.mapping(obj, "status").get("history") or []
        if not isinstance(history, list):
            raise ValueError("status.history is not a list")
        entries: list[Entry] = []
        problems: list[str] = []
        for index, item in enumerate(history):
            try:
                entries.append(_entry(item, problems))
            except ValueError as exc:
                problems.append(f"status.history[{index}] skipped: {exc}")
        entries.sort(key=lambda e: e.id)
        app = Application(
            environment=fold_environment(labels.get(self._label), self._environments),
            history=tuple(entries),
        )
        if problems:
            raise f.Incomplete(app, "; ".join(problems))
        return app


def _entry(item: Any, problems: list[str]) -> Entry:
    if not isinstance(item, Mapping):
        raise ValueError("not an object")
    entry_id = item.get("id")
    if not isinstance(entry_id, int) or isinstance(entry_id, bool):
        raise ValueError("no integer id")
    revisions = item.get("revisions")
    if revisions is not None:
        if not isinstance(revisions, list) or not all(isinstance(r, str) for r in revisions):
            raise ValueError("revisions is not a list of strings")
        revision = tuple(revisions)
    else:
        revision = (f.string(item, "revision"),)
    if not any(revision):
        raise ValueError("no revision")
    try:
        deployed = f.timestamp(item, "deployedAt")
    except ValueError:
        deployed = None
    if deployed is None:
        problems.append(f"status.history id {entry_id} has no readable deployedAt")
    try:
        started = f.timestamp(item, "deployStartedAt")
    except ValueError:
        started = None
        problems.append(f"status.history id {entry_id} has an unreadable deployStartedAt")
    return Entry(entry_id, revision, deployed, started)


@dataclass(slots=True)
class _Known:
    """What one application's history has shown so far."""

    first: dict[Revision, int] = field(default_factory=dict)  # revision -> first id
    newest: Entry | None = None  # the newest entry judged; older ids are judged too


def rollbacks(history: tuple[Entry, ...], known: _Known | None = None) -> list[Entry]:
    """The entries of `history` (sorted by id) newer than `known.newest` that are
    rollbacks; `known` (updated in place) carries the order across observations."""
    known = known if known is not None else _Known()
    first = known.first
    for entry in history:
        if first.get(entry.revision, entry.id) >= entry.id:
            first[entry.revision] = entry.id
    found = []
    judged = known.newest.id if known.newest is not None else None
    previous = known.newest
    for entry in history:
        fresh = judged is None or entry.id > judged
        if fresh and previous is not None and first[entry.revision] < first[previous.revision]:
            found.append(entry)
        previous = entry
    if history and (known.newest is None or history[-1].id > known.newest.id):
        known.newest = history[-1]
    _forget_oldest(known, history)
    return found


def _forget_oldest(known: _Known, history: tuple[Entry, ...]) -> None:
    if len(known.first) <= MAX_REVISIONS:
        return
    keep = {e.revision for e in history}
    if known.newest is not None:
        keep.add(known.newest.revision)
    spare = sorted((i, r) for r, i in known.first.items() if r not in keep)
    for _, revision in spare[: len(known.first) - MAX_REVISIONS]:
        del known.first[revision]


class ApplicationLedger:
    def __init__(self, process_start: float, tallies: Tallies) -> None:
        self._cutoff = first_seen_cutoff(process_start)
        self._tallies = tallies
        self._known: dict[str, dict[str, _Known]] = {}  # scope -> app UID -> history seen

    def replace(self, scope: str, records: Mapping[str, Application | None]) -> None:
        known = self._known.setdefault(scope, {})
        for uid in known.keys() - records.keys():
            del known[uid]
        for uid, app in records.items():
            self.upsert(scope, uid, app)

    def upsert(self, scope: str, uid: str, app: Application | None) -> None:
        if app is None:  # malformed: keep what was judged, judge nothing new
            return
        apps = self._known.setdefault(scope, {})
        live = uid in apps
        known = apps.setdefault(uid, _Known())
        for entry in rollbacks(app.history, known):
            deployed = entry.deployed
            if not live and (deployed is None or deployed < self._cutoff):
                continue  # judged on the first observation: happened before we started
            duration = None
            if deployed is not None and entry.started is not None:
                duration = max(deployed - entry.started, 0.0)
            self._tallies.rollback(app.environment, "argocd", "succeeded", duration)

    def delete(self, scope: str, uid: str) -> None:
        self._known.get(scope, {}).pop(uid, None)
