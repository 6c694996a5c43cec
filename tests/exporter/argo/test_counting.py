"""Counting rules against the wire-level fake API: skewed clocks, retries, resubmits,
duplicated and reordered events, relists, and what ArgoCD's history shows.

Every test also checks that no counter ever went down between two publishes."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.kube_api import APPLICATIONS, WORKFLOWS, FakeKubeAPI
from devstack.objects import application, completed, retried, workflow
from exporter.config import DEFAULT_ENVIRONMENTS
from exporter.sources.argo_state import CLOCK_SKEW_TOLERANCE
from exporter.sources.environments import fold_environment
from tests.exporter.argo.conftest import Running, argo_config, at
from tests.exporter.argo.test_deployments import DEPLOY, deployments

MINUTES = 60.0
DURATION = "idp_deployment_duration_seconds"


def durations(run: Running) -> tuple[float | None, float | None]:
    return (
        run.out.value(f"{DURATION}_count", **DEPLOY),
        run.out.value(f"{DURATION}_sum", **DEPLOY),
    )


def test_live_completions_count_whatever_the_controller_clock_says(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    # The case: many workflows seen in flight after the start, completing with a
    # finishedAt minutes before it (the controller's clock is 10 minutes behind ours).
    behind = -10 * MINUTES
    for i in range(100):
        api.create(WORKFLOWS, workflow(f"behind-{i}", phase="Running", started=at(behind)))
    run.wait(
        lambda: (
            run.out.value("idp_workflows", cluster="us-east-1", namespace="argo", phase="Running")
            == 100
        ),
        "all in flight",
    )
    for i in range(100):
        api.modify(WORKFLOWS, "argo", f"behind-{i}", completed("Succeeded", at(behind + 30)))
    run.wait(lambda: deployments(run, "succeeded") == 100, "all 100 counted")
    assert durations(run) == (100, 100 * 30)

    # Ahead of ours by 10 minutes: the same.
    ahead = 10 * MINUTES
    api.create(WORKFLOWS, workflow("ahead", phase="", started=at(ahead)))
    api.modify(
        WORKFLOWS,
        "argo",
        "ahead",
        lambda o: o.update(workflow("ahead", phase="Running", started=at(ahead))),
    )
    api.modify(WORKFLOWS, "argo", "ahead", completed("Failed", at(ahead + 5)))
    run.wait(lambda: deployments(run, "failed") == 1, "ahead counted")

    # Never seen in flight (created complete, as a relist after an outage shows it): the
    # start-time rule. 10 minutes behind is past the tolerance: not counted (a documented
    # limit); 10 minutes ahead is counted.
    api.create(
        WORKFLOWS, workflow("unseen-behind", phase="Error", started=at(-700), finished=at(behind))
    )
    api.create(
        WORKFLOWS,
        workflow("unseen-ahead", phase="Error", started=at(ahead), finished=at(ahead + 1)),
    )
    api.create(WORKFLOWS, workflow("marker", phase="Failed", started=at(1), finished=at(2)))
    run.wait(lambda: deployments(run, "failed") == 2, "marker counted")
    assert -behind > CLOCK_SKEW_TOLERANCE
    assert deployments(run, "error") == 1  # unseen-ahead only
    assert deployments(run, "succeeded") == 100
    assert run.out.decreases == [] and run.out.errors() == 0


def test_argo_retry_in_place_counts_each_attempt(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # Failed before the process started: not counted; its retry after the start is.
    api.load(WORKFLOWS, [workflow("old", phase="Failed", started=at(-5000), finished=at(-4900))])
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    assert deployments(run, "failed") == 0

    api.create(WORKFLOWS, workflow("deploy-a", phase="Running", started=at(100)))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Failed", at(160)))
    run.wait(lambda: deployments(run, "failed") == 1, "first attempt failed")
    # argo retry: same UID, back in flight ("" in older releases), finishedAt cleared.
    uid = api.get(WORKFLOWS, "argo", "deploy-a")["metadata"]["uid"]
    api.modify(WORKFLOWS, "argo", "deploy-a", retried(phase=""))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Error", at(400)))
    run.wait(lambda: deployments(run, "error") == 1, "second attempt errored")
    # A release that resets startedAt at the retry: the duration is the retried attempt's.
    api.modify(WORKFLOWS, "argo", "deploy-a", retried(started=at(500)))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(620)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "third attempt succeeded")
    assert api.get(WORKFLOWS, "argo", "deploy-a")["metadata"]["uid"] == uid
    assert durations(run) == (1, 120)

    # A release that keeps the first startedAt: the duration spans every attempt.
    api.modify(WORKFLOWS, "argo", "old", retried())
    api.modify(WORKFLOWS, "argo", "old", completed("Succeeded", at(100)))
    run.wait(lambda: deployments(run, "succeeded") == 2, "old workflow's retry counted")
    assert durations(run) == (2, 120 + 5100)
    assert deployments(run, "failed") == 1 and deployments(run, "error") == 1
    assert run.out.decreases == [] and run.out.errors() == 0


def test_a_retry_completing_in_the_same_second_is_taken_for_a_copy(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # The documented limit of naming an attempt by (uid, finishedAt): timestamps have
    # whole seconds, so a retry finishing in the same second as the attempt before it is
    # indistinguishable from a re-sent copy of that attempt, and is not counted.
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    api.create(WORKFLOWS, workflow("fast", phase="Running", started=at(10)))
    api.modify(WORKFLOWS, "argo", "fast", completed("Failed", at(20)))
    run.wait(lambda: deployments(run, "failed") == 1, "failed")
    api.modify(WORKFLOWS, "argo", "fast", retried())
    api.modify(WORKFLOWS, "argo", "fast", completed("Succeeded", at(20)))
    api.create(WORKFLOWS, workflow("marker", phase="Error", started=at(30), finished=at(40)))
    run.wait(lambda: deployments(run, "error") == 1, "marker counted")
    assert deployments(run, "succeeded") == 0


def test_resubmit_is_a_new_workflow_and_deletion_never_decrements(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    api.create(WORKFLOWS, workflow("deploy-a", phase="Running", started=at(10)))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Failed", at(70)))
    run.wait(lambda: deployments(run, "failed") == 1, "failed")
    # argo resubmit: a new workflow (new name, new UID) from the same spec.
    api.create(WORKFLOWS, workflow("deploy-a-x7k2p", phase="Running", started=at(100)))
    api.modify(WORKFLOWS, "argo", "deploy-a-x7k2p", completed("Succeeded", at(160)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "resubmitted counted")
    # Deleted and created again under the same name: a new UID, a new deployment.
    api.delete(WORKFLOWS, "argo", "deploy-a")
    api.create(WORKFLOWS, workflow("deploy-a", phase="Running", started=at(200)))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(230)))
    run.wait(lambda: deployments(run, "succeeded") == 2, "recreated counted")
    api.delete(WORKFLOWS, "argo", "deploy-a")
    api.delete(WORKFLOWS, "argo", "deploy-a-x7k2p")
    run.wait(
        lambda: (
            run.out.value("idp_workflows", cluster="us-east-1", namespace="argo", phase="Succeeded")
            == 0
        ),
        "deleted",
    )
    assert deployments(run, "succeeded") == 2 and deployments(run, "failed") == 1
    assert run.out.decreases == []


def test_duplicated_and_reordered_events_and_relists_never_count_twice(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    running = api.create(WORKFLOWS, workflow("deploy-a", phase="Running", started=at(10)))
    done = api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(70)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "counted")

    def resend(obj: dict[str, Any]) -> None:
        """The same content again as a new event (what a duplicate or a stale replay
        from a lagging API server looks like to the client)."""
        api.put(WORKFLOWS, copy.deepcopy(obj))

    resend(done)  # duplicate
    resend(running)  # reordered: an older state after the newer one
    resend(done)
    # A relist after 410 and one after a compaction while the watch was held.
    lists = len(api.requests_of("list"))
    api.expire_watches()
    run.wait(lambda: len(api.requests_of("list")) > lists, "relist after 410")
    api.create(WORKFLOWS, workflow("marker-1", phase="Error", started=at(20), finished=at(30)))
    run.wait(lambda: deployments(run, "error") == 1, "marker 1")
    assert deployments(run, "succeeded") == 1

    # A retry that completes while the exporter cannot watch shows up at the relist as
    # a new attempt: counted; the attempt before it is not counted again.
    api.modify(WORKFLOWS, "argo", "deploy-a", retried())
    run.wait(
        lambda: (
            run.out.value("idp_workflows", cluster="us-east-1", namespace="argo", phase="Running")
            == 1
        ),
        "retry seen",
    )
    api.stall_watches()
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(300)))
    api.compact()
    lists = len(api.requests_of("list"))
    api.stall_watches(False)
    api.drop_watches()
    run.wait(lambda: deployments(run, "succeeded") == 2, "retried attempt counted at relist")
    resend(done)  # the first attempt's completion once more, after the second one
    api.create(WORKFLOWS, workflow("marker-2", phase="Error", started=at(20), finished=at(30)))
    run.wait(lambda: deployments(run, "error") == 2, "marker 2")
    assert deployments(run, "succeeded") == 2
    assert durations(run) == (2, 60 + 290)
    assert run.out.decreases == [] and run.out.errors() == 0


# -- ArgoCD ------------------------------------------------------------------------------

RB = {"cluster": "us-east-1", "environment": "production", "mechanism": "argocd"}
History = list[tuple[int, str, float, float | None]]


def history(entries: History) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        obj["status"]["history"] = application("x", history=entries)["status"]["history"]

    return change


def rollbacks(run: Running, **labels: str) -> float | None:
    return run.out.value("idp_rollbacks_total", **{**RB, **labels}, result="succeeded")


def applied(api: FakeKubeAPI, *runs: Running) -> None:
    """Wait until every application change made so far was applied: one more rollback,
    in staging, on the same watch (events of one collection arrive in order)."""
    name = f"marker-{api.resource_version}"
    first: History = [(1, "A", at(1), None)]
    api.create(APPLICATIONS, application(name, environment="staging", history=first))
    before = [rollbacks(run, environment="staging") or 0 for run in runs]
    api.modify(
        APPLICATIONS,
        "argocd",
        name,
        history([*first, (2, "B", at(2), None), (3, "A", at(3), None)]),
    )
    for run, n in zip(runs, before, strict=True):
        run.wait(lambda r=run, n=n: rollbacks(r, environment="staging") == n + 1, "marker")


def test_roll_forward_after_a_rollback_is_not_a_rollback(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    entries: History = [(1, "X", at(-900), None), (2, "Y", at(-600), None)]
    api.create(APPLICATIONS, application("payments", history=entries))
    run = run_source(argo_config(kubeconfig, argocd={"namespace": "argocd"}))
    run.wait_ready()
    entries.append((3, "X", at(100), at(70)))  # back to X, first deployed before Y
    api.modify(APPLICATIONS, "argocd", "payments", history(entries))
    run.wait(lambda: rollbacks(run) == 1, "rollback to X")
    entries.append((4, "Y", at(200), at(190)))  # forward to Y again: not a rollback
    entries.append((5, "Z", at(300), at(290)))  # a new revision: not one
    entries.append((6, "Y", at(400), at(390)))  # Y was first deployed before Z: one
    api.modify(APPLICATIONS, "argocd", "payments", history(entries))
    run.wait(lambda: rollbacks(run) == 2, "rollback to Y")
    entries.append((7, "Z", at(500), at(490)))  # Z over Y: forward
    api.modify(APPLICATIONS, "argocd", "payments", history(entries))
    applied(api, run)
    assert rollbacks(run) == 2
    assert run.out.value("idp_rollback_duration_seconds_sum", **RB) == 30 + 10
    assert run.out.decreases == [] and run.out.errors() == 0


def test_history_trimming_keeps_the_order_seen_and_cannot_know_the_rest(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # revisionHistoryLimit 3: the oldest entry falls off as each new one is appended.
    api.create(
        APPLICATIONS,
        application("payments", history=[(1, "X", at(10), None), (2, "Y", at(20), None)]),
    )
    run = run_source(argo_config(kubeconfig, argocd={"namespace": "argocd"}))
    run.wait_ready()
    api.modify(
        APPLICATIONS,
        "argocd",
        "payments",
        history([(1, "X", at(10), None), (2, "Y", at(20), None), (3, "Z", at(30), None)]),
    )
    # X's first entry is gone from the history, but the exporter saw it: 4 is a rollback.
    trimmed: History = [(2, "Y", at(20), None), (3, "Z", at(30), None), (4, "X", at(40), None)]
    api.modify(APPLICATIONS, "argocd", "payments", history(trimmed))
    run.wait(lambda: rollbacks(run) == 1, "rollback across trimming")

    # A second exporter that starts now sees only the trimmed history, where X is first
    # deployed at 4: nothing in it is a rollback to it. What it never saw it cannot know:
    # to it Y (first at 2) over X is a rollback, and X over Y a roll-forward, the other
    # way round from the first exporter, which saw X at 1.
    late = run_source(argo_config(kubeconfig, name="late", argocd={"namespace": "argocd"}))
    late.wait_ready()
    assert rollbacks(late) is None
    trimmed = [*trimmed[1:], (5, "Y", at(50), None)]
    api.modify(APPLICATIONS, "argocd", "payments", history(trimmed))
    late.wait(lambda: rollbacks(late) == 1, "late exporter: Y over X")
    trimmed = [*trimmed[1:], (6, "X", at(60), None)]
    api.modify(APPLICATIONS, "argocd", "payments", history(trimmed))
    run.wait(lambda: rollbacks(run) == 2, "first exporter: X (first at 1) over Y (2)")
    applied(api, run, late)
    assert rollbacks(late) == 1
    assert run.out.decreases == [] and late.out.decreases == []


def test_one_malformed_history_entry_skips_only_that_entry(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig, argocd={"namespace": "argocd"}))
    run.wait_ready()
    api.create(APPLICATIONS, application("payments", history=[(1, "X", at(10), None)]))
    entries: History = [(1, "X", at(10), None), (2, "Y", at(20), None), (3, "X", at(40), at(30))]

    def broken(obj: dict[str, Any]) -> None:
        history(entries)(obj)
        items = obj["status"]["history"]
        items[1]["deployedAt"] = None  # kept for the order, not timed
        items.append({"id": "seven", "revision": "W", "deployedAt": "2026-01-01T00:00:00Z"})
        items.append({"id": 8, "deployedAt": "2026-01-01T00:00:00Z"})  # no revision
        items.append("garbage")

    api.modify(APPLICATIONS, "argocd", "payments", broken)
    run.wait(lambda: rollbacks(run) == 1, "rollback in a history with bad entries")
    assert run.out.value("idp_rollback_duration_seconds_sum", **RB) == 10
    run.wait(lambda: run.out.errors("parse") == 1, "one parse error for the object")
    # The same bad entries on the next update: not reported again.
    api.modify(
        APPLICATIONS,
        "argocd",
        "payments",
        lambda o: (broken(o), o["metadata"]["labels"].update(x="1")),
    )
    applied(api, run)
    assert run.out.errors("parse") == 1 and run.out.up
    assert rollbacks(run) == 1


# -- environments (the audit source's half is in tests/exporter/test_postgres.py) ---------

ENVIRONMENT_VALUES = ["dev", "staging", "production", "Production", "qa-42", "", None]


def test_environments_fold_by_the_default_allow_list_in_workflows_and_argocd(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    cfg = argo_config(
        kubeconfig,
        deployments={"templates": ["deployment-standard"]},  # the default allow-list
        argocd={"namespace": "argocd"},
    )
    assert cfg.deployments.environments == list(DEFAULT_ENVIRONMENTS)
    run = run_source(cfg)
    run.wait_ready()
    expected: Counter[str] = Counter()
    for i, env in enumerate(ENVIRONMENT_VALUES):
        folded = fold_environment(env, DEFAULT_ENVIRONMENTS)
        expected[folded] += 1
        api.create(WORKFLOWS, workflow(f"d-{i}", environment=env, started=at(1), finished=at(2)))
        api.create(
            APPLICATIONS,
            application(f"app-{i}", environment=env, history=[(1, "A", at(1), None)]),
        )
        api.modify(
            APPLICATIONS,
            "argocd",
            f"app-{i}",
            history([(1, "A", at(1), None), (2, "B", at(2), None), (3, "A", at(3), None)]),
        )
    assert set(expected) == {"dev", "staging", "production", "other", "unknown"}
    for env, n in expected.items():
        run.wait(lambda e=env, n=n: deployments(run, "succeeded", environment=e) == n, env)
        run.wait(lambda e=env, n=n: rollbacks(run, environment=e) == n, f"rollback {env}")
    assert sum(run.out.series("idp_deployments_total").values()) == len(ENVIRONMENT_VALUES)
