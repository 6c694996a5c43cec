"""Relists, dropped and stalled watches, outages, errors and slow responses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import completed, workflow
from tests.exporter.argo.conftest import Running, argo_config, at
from tests.exporter.argo.test_deployments import deployments


def lists(api: FakeKubeAPI) -> int:
    return len(api.requests_of("list"))


def test_relist_after_410_and_dropped_watches_never_double_count(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    api.load(WORKFLOWS, (workflow(f"old-{i}", started=at(-900)) for i in range(120)))
    run = run_source(argo_config(kubeconfig))
    run.wait_ready()
    api.create(WORKFLOWS, workflow("deploy-a", started=at(10), finished=at(70)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "a counted")

    # The API server compacts and tells the watch its version is gone: relist.
    before = lists(api)
    api.expire_watches()
    run.wait(lambda: lists(api) > before, "relist after 410")
    # A relist from a watch request answered with HTTP 410 (not an ERROR event), too.
    api.gone_as_http_status = True
    api.stall_watches()  # hold the client on an old version while history moves on
    api.create(WORKFLOWS, workflow("deploy-b", started=at(20), finished=at(80)))
    api.compact()
    api.stall_watches(False)
    api.drop_watches()
    run.wait(lambda: deployments(run, "succeeded") == 2, "b counted after relist")

    # Dropped connections: the watch resumes from its last version, nothing replayed twice.
    for i in range(3):
        watches = len(api.requests_of("watch"))
        api.drop_watches()
        run.wait(lambda w=watches: len(api.requests_of("watch")) > w, f"rewatch {i}")
    api.create(WORKFLOWS, workflow("deploy-c", phase="Failed", started=at(30), finished=at(40)))
    run.wait(lambda: deployments(run, "failed") == 1, "c counted")

    assert deployments(run, "succeeded") == 2
    assert (
        run.out.value(
            "idp_deployment_duration_seconds_count",
            cluster="us-east-1",
            environment="production",
            template="deployment-standard",
        )
        == 2
    )
    assert (
        run.out.value("idp_workflows", cluster="us-east-1", namespace="argo", phase="Succeeded")
        == 122
    )
    assert run.out.errors() == 0 and run.out.up  # 410s and dropped streams are routine


def test_workflow_finishing_during_an_outage_is_counted_after_recovery(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    api.create(WORKFLOWS, workflow("deploy-a", phase="Running", started=at(10)))
    run = run_source(argo_config(kubeconfig, interval="3s"))
    run.wait_ready()
    assert deployments(run, "succeeded") == 0

    api.stop()  # connection refused from now on
    run.wait(lambda: run.out.errors("connection") >= 1, "connection error reported")
    assert not run.out.up
    api.modify(WORKFLOWS, "argo", "deploy-a", completed("Succeeded", at(400)))
    # Finished and deleted entirely within the outage: never observed, never counted.
    api.create(WORKFLOWS, workflow("deploy-gone", started=at(10), finished=at(20)))
    api.delete(WORKFLOWS, "argo", "deploy-gone")
    api.start()

    run.wait(lambda: run.out.up, "recovered")
    run.wait(lambda: deployments(run, "succeeded") == 1, "counted at the relist")
    assert (
        run.out.value(
            "idp_deployment_duration_seconds_sum",
            cluster="us-east-1",
            environment="production",
            template="deployment-standard",
        )
        == 390
    )


def test_server_errors_mark_the_source_down_then_it_recovers(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig, interval="2s"))
    run.wait_ready()
    assert run.out.up
    api.fail(500, match="list ")
    api.fail(500, match="watch ")
    api.expire_watches()
    run.wait(lambda: run.out.errors("other") >= 2, "500s reported as other")
    assert not run.out.up
    api.clear_faults()
    run.wait(lambda: run.out.up, "recovered after 500s")
    api.create(WORKFLOWS, workflow("deploy-a", started=at(1), finished=at(2)))
    run.wait(lambda: deployments(run, "succeeded") == 1, "counting again")


def test_slow_responses_time_out_then_recover(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    run = run_source(argo_config(kubeconfig, interval="2s", timeout="1s"))
    run.wait_ready()
    api.latency = 1.5  # longer than the 1 s request timeout
    api.expire_watches()
    run.wait(lambda: run.out.errors("timeout") >= 1, "timeout reported")
    assert not run.out.up
    api.latency = 0.0
    run.wait(lambda: run.out.up, "recovered after slowness")


def test_a_stalled_watch_is_ended_by_the_client_read_timeout(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    # A half-open connection: the server neither sends nor ends the stream. The read
    # timeout (watch window + request timeout) ends it; the source relists and goes on.
    run = run_source(argo_config(kubeconfig, interval="1s", timeout="1s"))
    run.wait_ready()
    api.stall_watches()
    run.wait(lambda: run.out.errors("timeout") >= 1, "stall detected", timeout=20)
    api.stall_watches(False)
    api.create(WORKFLOWS, workflow("deploy-a", started=at(1), finished=at(2)))
    run.wait(lambda: deployments(run, "succeeded") == 1 and run.out.up, "counting after stall")


def test_forbidden_at_startup_is_ready_down_and_retried(
    api: FakeKubeAPI, kubeconfig: Path, run_source: Callable[..., Running]
) -> None:
    api.fail(403)  # missing RBAC
    run = run_source(argo_config(kubeconfig, interval="2s"))
    run.wait_ready()  # ready although the first list failed
    run.wait(lambda: run.out.errors("auth") >= 2, "retried with backoff")
    assert not run.out.up and run.out.snapshot == []
    api.clear_faults()
    run.wait(lambda: run.out.up, "recovered once RBAC is fixed")
    assert (
        run.out.value("idp_workflows", cluster="us-east-1", namespace="argo", phase="Running") == 0
    )


def test_unreachable_server_and_wrong_context(
    api: FakeKubeAPI, kubeconfig: Path, tmp_path: Path, run_source: Callable[..., Running]
) -> None:
    api.stop()
    down = run_source(argo_config(kubeconfig, interval="2s"))
    down.wait_ready()
    down.wait(lambda: down.out.errors("connection") >= 1, "connection refused")
    assert not down.out.up

    wrong = run_source(argo_config(kubeconfig, name="wrong", context="no-such-context"))
    wrong.wait_ready()
    wrong.wait(lambda: wrong.out.errors("auth") >= 1, "bad context")
    assert not wrong.out.up


def test_bad_token_is_an_auth_error(
    api: FakeKubeAPI, tmp_path: Path, run_source: Callable[..., Running]
) -> None:
    stale = api.kubeconfig(tmp_path / "stale")
    api.token = "rotated"  # the kubeconfig's token no longer works: 401
    run = run_source(argo_config(stale))
    run.wait_ready()
    run.wait(lambda: run.out.errors("auth") >= 1, "401 reported as auth")
