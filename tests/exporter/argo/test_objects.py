"""Malformed objects, ArgoCD rollbacks, backup freshness and several clusters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devstack.kube_api import APPLICATIONS, CRONJOBS, WORKFLOWS, FakeKubeAPI
from devstack.objects import application, cronjob, rfc3339, workflow
from tests.exporter.argo.conftest import Running, argo_config, at
from tests.exporter.argo.test_deployments import deployments


def broken(name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    obj = workflow(name, started=at(10), finished=at(20))
    change(obj)
    return obj


# Changes that make a deployment unreadable, and whether it stays in idp_workflows.
MALFORMED: list[tuple[Callable[[dict[str, Any]], None], bool]] = [
    (lambda o: o["status"].update(finishedAt="yesterday"), True),  # bad timestamp
    (lambda o: o["status"].pop("finishedAt"), True),  # completed without finishedAt
    (lambda o: o.update(status="Succeeded"), False),  # status not an object
    (lambda o: o.pop("status"), False),  # labelled completed, no status
    (lambda o: o["spec"]["arguments"].update(parameters={"environment": "production"}), False),
]


def test_malformed_workflows_are_reported_once_and_shown_where_readable(
    api: FakeKubeAPI,
    kubeconfig: Path,
    run_source: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.sources.kube")
    api.load(WORKFLOWS, [broken(f"bad-{i}", change) for i, (change, _) in enumerate(MALFORMED)])
    # A success with an unreadable startedAt is counted, without a duration.
    api.load(WORKFLOWS, [broken("no-start", lambda o: o["status"].update(startedAt=12345))])
    api.load(WORKFLOWS, [workflow("good-0", started=at(10), finished=at(30))])
    run = run_source(argo_config(kubeconfig, interval="2s"))
    run.wait_ready()
    bad = len(MALFORMED) + 1
    assert run.out.errors("parse") == bad
    assert run.out.errors() == bad
    assert run.out.up  # one bad object does not take the cluster down
    assert not [call for call in run.out.calls if call[0] == "failed"]
    assert deployments(run, "succeeded") == 2  # good-0 and no-start
    hist = {"cluster": "us-east-1", "environment": "production", "template": "deployment-standard"}
    assert run.out.value("idp_deployment_duration_seconds_count", **hist) == 1
    wf = {"cluster": "us-east-1", "namespace": "argo"}
    shown = sum(1 for _, kept in MALFORMED if kept)
    assert run.out.value("idp_workflows", **wf, phase="Succeeded") == 2 + shown
    # One WARNING per object, naming cluster, namespace, name and why.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == bad
    assert any(
        m.startswith("cluster us-east-1: workflows argo/bad-1: ") and "finishedAt" in m
        for m in warnings
    ), warnings

    # Resyncs (every 2 s) and re-sent events show the same problems: not reported again.
    lists = len(api.requests_of("list"))
    run.wait(lambda: len(api.requests_of("list")) >= lists + 2, "two resyncs")
    api.modify(WORKFLOWS, "argo", "bad-0", lambda o: o["metadata"]["labels"].update(x="1"))

    # Live: a bad update keeps the workflow in the gauge; a later good one is counted.
    api.create(WORKFLOWS, workflow("live", phase="Running", started=at(50)))
    run.wait(lambda: run.out.value("idp_workflows", **wf, phase="Running") == 1, "running")
    api.modify(
        WORKFLOWS,
        "argo",
        "live",
        lambda o: o["status"].update(phase="Succeeded", finishedAt="not-a-time"),
    )
    run.wait(lambda: run.out.errors("parse") == bad + 1, "live parse error")
    run.wait(lambda: run.out.value("idp_workflows", **wf, phase="Running") == 0, "completed")
    assert run.out.value("idp_workflows", **wf, phase="Succeeded") == 3 + shown
    assert run.out.up and deployments(run, "succeeded") == 2
    api.modify(WORKFLOWS, "argo", "live", lambda o: o["status"].update(finishedAt=rfc3339(at(80))))
    run.wait(lambda: deployments(run, "succeeded") == 3, "fixed object counted")
    assert run.out.errors("parse") == bad + 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == bad + 1
    assert run.out.up


def argocd_config(kubeconfig: Path, **overrides: Any) -> Any:
    return argo_config(kubeconfig, argocd={"namespace": "argocd"}, **overrides)


def test_argocd_rollbacks_are_detected_and_counted_once(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # Before the process started: a deploy, another, and a rollback (not counted).
    api.create(
        APPLICATIONS,
        application(
            "payments",
            history=[
                (1, "aaa", at(-900), at(-960)),
                (2, "bbb", at(-600), at(-660)),
                (3, "aaa", at(-300), at(-330)),
            ],
        ),
    )
    api.create(
        APPLICATIONS,
        application("search", environment="staging", history=[(1, "s1", at(-50), None)]),
    )
    run = run_source(argocd_config(kubeconfig))
    run.wait_ready()
    rb = {"cluster": "us-east-1", "environment": "production", "mechanism": "argocd"}
    assert run.out.value("idp_rollbacks_total", **rb, result="succeeded") is None

    def append(
        entries: list[tuple[int, str, float, float | None]],
    ) -> Callable[[dict[str, Any]], None]:
        def change(obj: dict[str, Any]) -> None:
            obj["status"]["history"] = application("x", history=entries)["status"]["history"]

        return change

    history = [
        (1, "aaa", at(-900), at(-960)),
        (2, "bbb", at(-600), at(-660)),
        (3, "aaa", at(-300), at(-330)),
    ]
    # A new deploy of ccc, a re-sync of the same (adjacent, not a rollback), then back to bbb.
    history += [
        (4, "ccc", at(100), at(40)),
        (5, "ccc", at(200), at(190)),
        (6, "bbb", at(400), at(310)),
    ]
    api.modify(APPLICATIONS, "argocd", "payments", append(history))
    run.wait(
        lambda: run.out.value("idp_rollbacks_total", **rb, result="succeeded") == 1, "rollback"
    )
    assert run.out.value("idp_rollback_duration_seconds_sum", **rb) == 90
    assert run.out.value("idp_rollback_duration_seconds_bucket", **rb, le="60.0") == 0
    assert run.out.value("idp_rollback_duration_seconds_bucket", **rb, le="120.0") == 1

    # The same history again, a relist, and truncation to the last 3 entries: no recount.
    api.modify(APPLICATIONS, "argocd", "payments", lambda o: o["metadata"]["labels"].update(x="1"))
    lists = len(api.requests_of("list"))
    api.expire_watches()
    run.wait(lambda: len(api.requests_of("list")) > lists, "relist")
    api.modify(APPLICATIONS, "argocd", "payments", append(history[-3:]))
    # Then a rollback in staging without deployStartedAt: counted, no duration.
    api.modify(
        APPLICATIONS,
        "argocd",
        "search",
        append([(1, "s1", at(-50), None), (2, "s2", at(30), None), (3, "s1", at(60), None)]),
    )
    staging = {**rb, "environment": "staging"}
    run.wait(
        lambda: run.out.value("idp_rollbacks_total", **staging, result="succeeded") == 1, "staging"
    )
    assert run.out.value("idp_rollback_duration_seconds_count", **staging) is None
    assert run.out.value("idp_rollbacks_total", **rb, result="succeeded") == 1
    assert run.out.up and run.out.errors() == 0


def test_backup_freshness_from_cronjobs(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    api.create(CRONJOBS, cronjob("backstage-db-backup", last_success=at(-3600)))
    api.create(CRONJOBS, cronjob("unrelated", last_success=at(-10)))
    cfg = argo_config(
        kubeconfig,
        backups={"namespace": "backstage", "cronjobs": ["backstage-db-backup", "never-ran"]},
    )
    run = run_source(cfg)
    run.wait_ready()
    series = run.out.series("idp_backup_last_success_timestamp_seconds")
    labels = (("cluster", "us-east-1"), ("namespace", "backstage"))
    assert series == {
        (*labels[:1], ("cronjob", "backstage-db-backup"), labels[1]): at(-3600),
        (*labels[:1], ("cronjob", "never-ran"), labels[1]): 0.0,
    }
    api.modify(
        CRONJOBS,
        "backstage",
        "backstage-db-backup",
        lambda o: o["status"].update(lastSuccessfulTime=rfc3339(at(18000))),
    )
    run.wait(
        lambda: (
            run.out.value(
                "idp_backup_last_success_timestamp_seconds",
                cluster="us-east-1",
                namespace="backstage",
                cronjob="backstage-db-backup",
            )
            == at(18000)
        ),
        "new backup seen",
    )


def test_two_clusters_are_labelled_apart(
    tmp_path: Path, run_source: Callable[..., Running]
) -> None:
    east, west = (
        FakeKubeAPI(bookmark_interval=0.2).start(),
        FakeKubeAPI(bookmark_interval=0.2).start(),
    )
    try:
        east.create(WORKFLOWS, workflow("d1", started=at(1), finished=at(61)))
        west.create(WORKFLOWS, workflow("d1", phase="Failed", started=at(1), finished=at(61)))
        west.create(WORKFLOWS, workflow("d2", phase="Running", started=at(1)))
        runs = {
            name: run_source(argo_config(api.kubeconfig(tmp_path / name), name=name, cluster=name))
            for name, api in (("us-east-1", east), ("eu-central-1", west))
        }
        for run in runs.values():
            run.wait_ready()
        e, w = runs["us-east-1"], runs["eu-central-1"]
        assert deployments(e, "succeeded") == 1 and deployments(e, "failed") == 0
        assert deployments(w, "failed", cluster="eu-central-1") == 1
        assert deployments(w, "succeeded", cluster="eu-central-1") == 0
        assert (
            w.out.value("idp_workflows", cluster="eu-central-1", namespace="argo", phase="Running")
            == 1
        )
        assert all(dict(k)["cluster"] == "us-east-1" for k in e.out.series("idp_workflows"))
        east.stop()  # one cluster down does not affect the other
        e.wait(lambda: not e.out.up, "east down")
        west.create(WORKFLOWS, workflow("d3", started=at(5), finished=at(6)))
        w.wait(lambda: deployments(w, "succeeded", cluster="eu-central-1") == 1, "west counts")
        assert w.out.up
    finally:
        east.stop()
        west.stop()
