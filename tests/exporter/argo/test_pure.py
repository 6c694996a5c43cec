"""The pure parts: label selectors, projection, rollback detection, the counting ledger."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.objects import workflow
from exporter import labelselector
from exporter.sources.argo_state import WorkflowLedger
from exporter.sources.argo_tallies import Tallies
from exporter.sources.argocd import Entry, rollbacks
from exporter.sources.kube import Decoder
from exporter.sources.kube_fields import Incomplete
from exporter.sources.workflows import DEPLOYMENT, Workflow, WorkflowProjector, WorkflowShape
from tests.exporter.argo.test_objects import MALFORMED
from tests.exporter.argo.test_objects import broken as broken_workflow


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x, y),b", {"a": "y", "b": ""}, True),
        ("a notin (x)", {}, True),
        ("a notin (x)", {"a": "x"}, False),
        ("!app.kubernetes.io/name", {"app.kubernetes.io/name": "x"}, False),
        ("team=payments, tier in (web,api)", {"team": "payments", "tier": "db"}, False),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert labelselector.parse(selector).matches(labels) is expected


@pytest.mark.parametrize("bad", ["a=b,", "=b", "a in x", "a in (x", "a b", "a=(b)"])
def test_invalid_label_selector(bad: str) -> None:
    with pytest.raises(ValueError):
        labelselector.parse(bad)


def test_projection_keeps_a_few_fields() -> None:
    project = WorkflowProjector(
        ["deployment-standard"], None, "environment", ["production", "staging"]
    )
    obj = workflow("d", started=1000.0, finished=1300.0, steps=20)
    record = project(obj)
    assert record == Workflow(
        "argo", "Succeeded", DEPLOYMENT, "deployment-standard", "production", 1000.0, 1300.0
    )
    # The default from the WorkflowTemplate, resolved into the status, is used too.
    no_arg = workflow("d", environment=None, started=1000.0, finished=1300.0)
    no_arg["status"]["storedWorkflowTemplateSpec"] = {
        "arguments": {"parameters": [{"name": "environment", "value": "staging"}]}
    }
    assert project(no_arg).environment == "staging"
    # Non-deployments share one record per (namespace, phase).
    assert project(workflow("a", template="x")) is project(workflow("b", template="x"))
    assert project(workflow("q", phase="")).phase == "Pending"
    weird = workflow("w", template="x", phase="Running")
    weird["status"]["phase"] = "Paused"
    assert project(weird).phase == "unknown"


def entries(*revisions: str) -> tuple[Entry, ...]:
    return tuple(Entry(i, (r,), float(i), None) for i, r in enumerate(revisions, 1))


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (("a", "b", "a"), [3]),
        (("a", "a"), []),  # re-sync of the current revision
        (("a", "b", "b"), []),
        (("a", "b", "a", "a"), [3]),  # the re-sync after a rollback is not another one
        (("a", "b", "c", "a", "c"), [4]),  # back to c, newer than a: a roll-forward
        (("x", "y", "x", "y"), [3]),
        (("x", "y", "x", "y", "x"), [3, 5]),
        (("a",), []),
    ],
)
def test_rollback_detection(history: tuple[str, ...], expected: list[int]) -> None:
    assert [e.id for e in rollbacks(entries(*history))] == expected


EPOCH = 1000.0  # the process start; first-seen completions count from EPOCH - 60
STEP = 10.0  # seconds between one attempt's finishedAt and the next one's


def in_flight() -> Workflow:
    return Workflow("argo", "Running", DEPLOYMENT, "t", "prod", 900.0, None)


def done(finished: float) -> Workflow:
    return Workflow("argo", "Succeeded", DEPLOYMENT, "t", "prod", finished - 5, finished)


# One step of the world: the API server moves workflow N on (created in flight, then
# completed, retried, completed again...), or the exporter observes something.
step = st.tuples(
    st.sampled_from(["advance", "watch", "relist", "stale", "malformed", "delete"]),
    st.integers(0, 4),
    st.integers(0, 7),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, max_size=60))
def test_attempts_are_counted_once_never_lost_once_watched_and_never_decrease(
    steps: list[tuple[str, int, int]],
) -> None:
    tallies = Tallies("c")
    ledger = WorkflowLedger(EPOCH, tallies)
    # The API server: each workflow's states so far (its history, for stale replays).
    # Workflows 0-1 finish before the cutoff, 2-4 after it, so both rules are exercised.
    history: dict[str, list[Workflow]] = {}
    deleted: set[str] = set()
    observed_completions: set[tuple[str, float]] = set()
    must_count: set[tuple[str, float]] = set()  # seen in flight, then seen completed
    watched: set[str] = set()
    previous_total = 0.0

    def observe(uid: str, wf: Workflow) -> None:
        if wf.finished is None:
            watched.add(uid)
        else:
            observed_completions.add((uid, wf.finished))
            if uid in watched:
                must_count.add((uid, wf.finished))

    for op, n, k in steps:
        uid = f"u{n}"
        if uid in deleted:
            continue  # a deleted object's UID never comes back
        states = history.get(uid, [])
        if op == "advance":
            if not states:
                history[uid] = [in_flight()]
            elif states[-1].finished is None:  # completes: a new attempt, a new finishedAt
                attempt = sum(1 for w in states if w.finished is not None)
                base = 500.0 if n < 2 else 1500.0
                states.append(done(base + STEP * attempt))
            else:  # argo retry: same UID, back in flight
                states.append(in_flight())
        elif not states:
            continue
        elif op == "watch":
            ledger.upsert("s", uid, states[-1])
            observe(uid, states[-1])
        elif op == "stale":  # a duplicated or reordered event: an older state again
            old = states[k % len(states)]
            ledger.upsert("s", uid, old)
            if old.finished is not None:
                observed_completions.add((uid, old.finished))
        elif op == "malformed":  # the object still exists, but cannot be read
            ledger.upsert("s", uid, None)
        elif op == "delete":
            del history[uid]
            deleted.add(uid)
            ledger.delete("s", uid)
        else:
            ledger.replace("s", {u: w[-1] for u, w in history.items()})
            for u, w in history.items():
                observe(u, w[-1])
        total = sum(s.value for s in tallies.families()[0].samples)
        assert total >= previous_total  # counters never decrease
        previous_total = total
    # Never more than the distinct attempts that were seen completed...
    assert previous_total <= len(observed_completions)
    # ...and at least every attempt seen in flight and then seen completed.
    assert previous_total >= len(must_count)
    # Memory: only UIDs of existing objects are remembered.
    assert ledger.remembered() <= len(history)


def test_decoding_only_the_shape_projects_exactly_like_decoding_everything() -> None:
    project = WorkflowProjector(["deployment-standard"], None, "environment", ["production"])
    decoder = Decoder(WorkflowShape)
    objects = [
        workflow("d", started=1000.0, finished=1300.0, steps=20),
        workflow("r", phase="Running", started=1000.0),
        workflow("q", phase=""),
        workflow("n", template="nightly-report"),
    ]
    stored = workflow("t", environment=None, started=1000.0, finished=1300.0)
    stored["status"]["storedWorkflowTemplateSpec"] = {
        "templates": [{"name": "main", "steps": [[{"name": "x"}]]}],
        "arguments": {"parameters": [{"name": "environment", "value": "staging"}]},
    }
    objects.append(stored)
    for i, (change, _) in enumerate(MALFORMED):
        objects.append(broken_workflow(f"bad-{i}", change))
    for obj in objects:
        line = json.dumps({"type": "MODIFIED", "object": obj}).encode()
        shaped, whole = decoder.event(line)["object"], json.loads(line)["object"]
        if isinstance(shaped.get("status"), dict):  # not decoded whole: nodes skipped
            assert "nodes" not in shaped["status"]
        assert outcome(project, shaped) == outcome(project, whole)
    page = json.dumps({"items": objects[:3], "metadata": {"continue": "t"}}).encode()
    assert [outcome(project, o) for o in decoder.page(page)["items"]] == [
        outcome(project, o) for o in objects[:3]
    ]
    # A watch ERROR event keeps its Status; invalid JSON is a ValueError (a parse error).
    gone = b'{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}'
    assert decoder.event(gone)["object"] == {"code": 410, "message": "too old"}
    with pytest.raises(ValueError):
        decoder.event(b'{"type":"ADDED","object":')


def outcome(project: WorkflowProjector, obj: dict[str, Any]) -> object:
    try:
        return project(obj)
    except Incomplete as exc:
        return ("incomplete", exc.record, str(exc))
    except ValueError as exc:
        return ("malformed", str(exc))
