"""The pure parts: label selectors, projection, rollback detection, the counting ledger."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.objects import workflow
from exporter import labelselector
from exporter.sources.argo_state import WorkflowLedger
from exporter.sources.argo_tallies import Tallies
from exporter.sources.argocd import Entry, rollbacks
from exporter.sources.workflows import DEPLOYMENT, Workflow, WorkflowProjector


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
    project = WorkflowProjector(["deployment-standard"], None, "environment", None)
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
        (("a", "b", "c", "a", "c"), [4, 5]),
        (("a",), []),
    ],
)
def test_rollback_detection(history: tuple[str, ...], expected: list[int]) -> None:
    assert [e.id for e in rollbacks(entries(*history))] == expected


EPOCH = 1000.0


def done(finished: float) -> Workflow:
    return Workflow("argo", "Succeeded", DEPLOYMENT, "t", "prod", finished - 10, finished)


def running() -> Workflow:
    return Workflow("argo", "Running", DEPLOYMENT, "t", "prod", 900.0, None)


# One observation of workflow uid N: a watch update, a relist containing it, or a deletion.
observation = st.tuples(
    st.sampled_from(["upsert", "relist", "delete", "malformed"]),
    st.integers(0, 5),
    st.sampled_from([None, 500.0, 1000.0, 1500.0]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(observation, max_size=40))
def test_each_uid_is_counted_at_most_once_and_only_after_the_epoch(
    ops: list[tuple[str, int, float | None]],
) -> None:
    tallies = Tallies("c")
    ledger = WorkflowLedger(EPOCH, tallies)
    # The "API server": current objects. A workflow's finishedAt is fixed per uid.
    finished_at = {uid: [500.0, 1000.0, 1500.0][uid % 3] for uid in range(6)}
    existing: dict[str, Workflow | None] = {}
    deleted: set[str] = set()
    expected: set[str] = set()
    for op, n, completed in ops:
        uid = f"u{n}"
        if uid in deleted:
            continue  # a deleted object's UID never comes back
        wf = done(finished_at[n]) if completed is not None else running()
        if op == "upsert":
            existing[uid] = wf
            ledger.upsert("s", uid, wf)
        elif op == "malformed":  # the object still exists, but cannot be read
            ledger.upsert("s", uid, None)
            existing[uid] = None
            continue
        elif op == "delete":
            existing.pop(uid, None)
            deleted.add(uid)
            ledger.delete("s", uid)
            continue
        else:
            existing[uid] = wf
            ledger.replace("s", dict(existing))
        if wf.finished is not None and wf.finished >= EPOCH:
            expected.add(uid)
    counted = tallies.families()[0].samples
    total = sum(s.value for s in counted)
    assert total == len(expected)
    # Memory: only UIDs of existing objects are remembered.
    assert ledger.remembered() <= len(existing) + len(expected - deleted - set(existing))
