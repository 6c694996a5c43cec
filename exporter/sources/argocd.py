"""ArgoCD Applications -> rollbacks, from status.history.

ArgoCD persists no rollback flag (a rollback is "just a sync" to an older revision), so a
rollback is derived from the history it appends after every successful sync: a new entry
whose revision equals an earlier entry's revision, other than the entry right before it
(re-syncing the current revision is not a rollback). Duration = deployedAt -
deployStartedAt (no duration is observed when deployStartedAt is absent, as in ArgoCD
releases before it existed).

Each (application UID, history id) is judged once, the first time it is seen, with the
fullest history available then; it is counted if it is a rollback that finished
(deployedAt) at or after the process start - the same epoch rule as workflows. History
ids only grow and old entries only fall off the front (revisionHistoryLimit), so ids no
longer in the history are forgotten safely: memory is ~10 ids per application.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.sources import kube_fields as f
from exporter.sources.argo_tallies import Tallies
from exporter.sources.workflows import fold_environment


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    revision: tuple[str, ...]  # `revision`, or `revisions` of a multi-source application
    deployed: float
    started: float | None


@dataclass(frozen=True, slots=True)
class Application:
    environment: str
    history: tuple[Entry, ...]  # sorted by id


class ApplicationProjector:
    def __init__(self, environment_label: str, environments: list[str] | None) -> None:
        self._label = environment_label
        self._environments = frozenset(environments) if environments is not None else None

    def __call__(self, obj: Mapping[str, Any]) -> Application:
        labels = f.labels(f.mapping(obj, "metadata"))
        history = f.mapping(obj, "status").get("history") or []
        if not isinstance(history, list):
            raise ValueError("status.history is not a list")
        entries = sorted((_entry(item) for item in history), key=lambda e: e.id)
        return Application(
            environment=fold_environment(labels.get(self._label), self._environments),
            history=tuple(entries),
        )


def _entry(item: Any) -> Entry:
    if not isinstance(item, Mapping):
        raise ValueError("status.history entry is not an object")
    entry_id = item.get("id")
    if not isinstance(entry_id, int) or isinstance(entry_id, bool):
        raise ValueError("status.history entry without an integer id")
    revisions = item.get("revisions")
    if revisions is not None:
        if not isinstance(revisions, list) or not all(isinstance(r, str) for r in revisions):
            raise ValueError("status.history revisions is not a list of strings")
        revision = tuple(revisions)
    else:
        revision = (f.string(item, "revision"),)
    deployed = f.timestamp(item, "deployedAt")
    if deployed is None:
        raise ValueError("status.history entry without deployedAt")
    return Entry(entry_id, revision, deployed, f.timestamp(item, "deployStartedAt"))


def rollbacks(history: tuple[Entry, ...]) -> list[Entry]:
    """The entries of `history` (sorted by id) that are rollbacks."""
    found = []
    for i, entry in enumerate(history):
        if (
            i >= 2
            and entry.revision != history[i - 1].revision
            and any(earlier.revision == entry.revision for earlier in history[: i - 1])
        ):
            found.append(entry)
    return found


class ApplicationLedger:
    def __init__(self, epoch: float, tallies: Tallies) -> None:
        self._epoch = epoch
        self._tallies = tallies
        self._seen: dict[str, dict[str, set[int]]] = {}  # scope -> app UID -> history ids

    def replace(self, scope: str, records: Mapping[str, Application | None]) -> None:
        seen = self._seen.setdefault(scope, {})
        for uid in set(seen) - records.keys():
            del seen[uid]
        for uid, app in records.items():
            self.upsert(scope, uid, app)

    def upsert(self, scope: str, uid: str, app: Application | None) -> None:
        if app is None:  # malformed: keep what was judged, judge nothing new
            return
        known = self._seen.setdefault(scope, {}).setdefault(uid, set())
        fresh = [e for e in rollbacks(app.history) if e.id not in known]
        for entry in fresh:
            if entry.deployed >= self._epoch:
                duration = (
                    None if entry.started is None else max(entry.deployed - entry.started, 0.0)
                )
                self._tallies.rollback(app.environment, "argocd", "succeeded", duration)
        known.intersection_update(e.id for e in app.history)
        known.update(e.id for e in app.history)

    def delete(self, scope: str, uid: str) -> None:
        self._seen.get(scope, {}).pop(uid, None)
