"""Deployment and rollback workflows counted once: startup, live transitions, folding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from common.catalog import DEPLOYMENT_BUCKETS, ROLLBACK_BUCKETS
from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import completed, workflow
from exporter.sources.argo_state import CLOCK_SKEW_TOLERANCE
from tests.exporter.argo.conftest import Running, argo_config, at

DEPLOY = {"cluster": "us-east-1", "environment": "production", "template": "deployment-standard"}


def deployments(run: Running, result: str, **labels: str) -> float | None:
    return run.out.value("idp_deployments_total", **{**DEPLOY, **labels, "result": result})


def buckets(run: Running, name: str, bounds: tuple[float, ...], **labels: str) -> list[float]:
    found = []
    for le in [*(str(b) for b in bounds), "+Inf"]:
        value = run.out.value(f"{name}_bucket", **labels, le=le)
        assert value is not None, f"no {name} bucket le={le}"
        found.append(value)
    return found


def test_startup_counts_nothing_that_finished_before_the_process(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    phases = ["Succeeded", "Failed", "Error"]
    api.load(
        WORKFLOWS,
        (
            workflow(f"deploy-{i}", phase=phases[i % 3], started=at(-5000 + i), steps=8)
            for i in range(300)
        ),
    )
    api.load(WORKFLOWS, (workflow(f"other-{i}", template="nightly-report") for i in range(50)))
    api.load(WORKFLOWS, (workflow(f"run-{i}", phase="Running", started=at(-60)) for i in range(7)))
    # Finished after the process started but before the first list: counted.
    api.load(WORKFLOWS, (workflow(f"fresh-{i}", started=at(5), finished=at(65)) for i in range(4)))

    run = run_source(argo_config(kubeconfig))
    run.wait_ready()

    assert deployments(run, "succeeded") == 4
    assert deployments(run, "failed") == 0
    assert deployments(run, "error") == 0
    assert deployments(run, "succeeded", environment="staging") == 0  # initialised series
    hist = {**DEPLOY}
    assert run.out.value("idp_deployment_duration_seconds_count", **hist) == 4
    assert run.out.value("idp_deployment_duration_seconds_sum", **hist) == 240
    wf = {"cluster": "us-east-1", "namespace": "argo"}
    assert run.out.value("idp_workflows", **wf, phase="Succeeded") == 100 + 50 + 4
    assert run.out.value("idp_workflows", **wf, phase="Failed") == 100
    assert run.out.value("idp_workflows", **wf, phase="Error") == 100
    assert run.out.value("idp_workflows", **wf, phase="Running") == 7
    assert run.out.value("idp_workflows", **wf, phase="Pending") == 0
    assert run.out.up and run.out.errors() == 0
    assert len(api.requests_of("list")) >= 1
    assert all(r.query.get("limit") == "500" for r in api.requests_of("list"))


def test_first_seen_completions_count_within_the_clock_skew_tolerance(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # Never seen in flight: counted if finishedAt >= start - CLOCK_SKEW_TOLERANCE, where
    # the start is taken to its whole second (finishedAt has whole seconds: 0.7 s into
    # the start second reads as the start second).
    edge = -CLOCK_SKEW_TOLERANCE
    api.load(WORKFLOWS, [workflow("at-edge", started=at(edge - 60), finished=at(edge))])
    api.load(WORKFLOWS, [workflow("past-edge", started=at(edge - 60), finished=at(edge - 1))])
    run = run_source(argo_config(kubeconfig), epoch=at(0.7))
    run.wait_ready()
    assert deployments(run, "succeeded") == 1
    # The same rule for a workflow created while the exporter runs, already completed.
    api.create(WORKFLOWS, workflow("late-edge", started=at(edge - 60), finished=at(edge)))
    api.create(WORKFLOWS, workflow("late-past", started=at(edge - 60), finished=at(edge - 1)))
    api.create(WORKFLOWS, workflow("marker", phase="Failed", started=at(1), finished=at(2)))
    run.wait(lambda: deployments(run, "failed") == 1, "marker counted")
    assert deployments(run, "succeeded") == 2


def test_live_transitions_are_counted_once_with_exact_histograms(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    wf = {"cluster": "us-east-1", "namespace": "argo"}

    # Submitted: no status yet -> queued (Pending).
    api.create(WORKFLOWS, workflow("deploy-a", phase="", started=at(100)))
    run.wait(lambda: run.out.value("idp_workflows", **wf, phase="Pending") == 1, "pending")
    api.modify(
        WORKFLOWS,
        "argo",
        "deploy-a",
        lambda o: o.update(workflow("deploy-a", phase="Running", started=at(100))),
    )
    run.wait(lambda: run.out.value("idp_workflows", **wf, phase="Running") == 1, "running")
    assert run.out.value("idp_workflows", **wf, phase="Pending") == 0
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(100 + 250)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "a succeeded")

    for name, phase, duration in [("deploy-b", "Failed", 40), ("deploy-c", "Error", 5)]:
        api.create(WORKFLOWS, workflow(name, phase="Running", started=at(200)))
        api.modify(WORKFLOWS, "argo", name, completed(phase, at(200 + duration)))
    # A second succeeded deployment, 700 s, in staging.
    api.create(
        WORKFLOWS,
        workflow("deploy-d", environment="staging", started=at(300), finished=at(1000)),
    )
    run.wait(lambda: deployments(run, "error") == 1, "c errored")
    run.wait(lambda: deployments(run, "succeeded", environment="staging") == 1, "d counted")

    # Updates after completion (label edits, status touch-ups) and deletion change nothing.
    api.modify(WORKFLOWS, "argo", "deploy-a", lambda o: o["metadata"]["labels"].update(x="y"))
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(100 + 250)))
    api.delete(WORKFLOWS, "argo", "deploy-a")
    api.delete(WORKFLOWS, "argo", "deploy-b")
    run.wait(lambda: run.out.value("idp_workflows", **wf, phase="Succeeded") == 1, "deleted")

    assert deployments(run, "succeeded") == 1
    assert deployments(run, "failed") == 1
    assert deployments(run, "error") == 1
    assert deployments(run, "succeeded", environment="staging") == 1
    name = "idp_deployment_duration_seconds"
    # 250 s: first bucket at or above is 300 (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200).
    assert buckets(run, name, DEPLOYMENT_BUCKETS, **DEPLOY) == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    assert run.out.value(f"{name}_sum", **DEPLOY) == 250
    assert run.out.value(f"{name}_count", **DEPLOY) == 1  # failed/error have no duration
    staging = {**DEPLOY, "environment": "staging"}
    assert buckets(run, name, DEPLOYMENT_BUCKETS, **staging) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert run.out.value(f"{name}_sum", **staging) == 700
    assert run.out.up and run.out.errors() == 0


def test_rollback_workflows_and_label_folding(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    cfg = argo_config(
        kubeconfig,
        deployments={
            "templates": ["deployment-standard"],
            "label_selector": "team=payments,tier in (web,api)",
            "environments": ["production", "staging"],
        },
    )
    run = run_source(cfg)
    run.wait_ready()
    api.create(
        WORKFLOWS, workflow("rb-1", template="rollback-standard", started=at(10), finished=at(100))
    )
    api.create(
        WORKFLOWS,
        workflow(
            "rb-2", template="rollback-standard", phase="Failed", started=at(10), finished=at(20)
        ),
    )
    # Selected by label, template not configured -> template="other".
    api.create(
        WORKFLOWS,
        workflow(
            "sel-1",
            template="custom",
            labels={"team": "payments", "tier": "api"},
            started=at(10),
            finished=at(40),
        ),
    )
    # Environment outside the allow-list -> "other"; missing -> "unknown".
    api.create(WORKFLOWS, workflow("env-1", environment="qa-42", started=at(10), finished=at(20)))
    api.create(WORKFLOWS, workflow("env-2", environment=None, started=at(10), finished=at(20)))
    # Neither selected by template nor by labels: not a deployment.
    api.create(
        WORKFLOWS,
        workflow(
            "x-1",
            template="custom",
            labels={"team": "payments", "tier": "db"},
            started=at(10),
            finished=at(20),
        ),
    )

    rb = {"cluster": "us-east-1", "environment": "production", "mechanism": "workflow"}
    run.wait(lambda: deployments(run, "succeeded", environment="unknown") == 1, "env missing")
    run.wait(lambda: deployments(run, "succeeded", environment="other") == 1, "env folding")
    run.wait(lambda: run.out.value("idp_rollbacks_total", **rb, result="failed") == 1, "rb-2")
    assert run.out.value("idp_rollbacks_total", **rb, result="succeeded") == 1
    assert buckets(run, "idp_rollback_duration_seconds", ROLLBACK_BUCKETS, **rb) == [
        0,
        0,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
    ]
    assert run.out.value("idp_rollback_duration_seconds_sum", **rb) == 90
    assert deployments(run, "succeeded", template="other") == 1
    totals = run.out.series("idp_deployments_total")
    assert sum(totals.values()) == 3  # sel-1, env-1, env-2
    assert not any(("template", "custom") in k for k in totals)
