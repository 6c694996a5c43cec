"""The Argo source under the real runtime: its snapshots pass the catalog check and an
outage shows as source_up 0 with the error counted, then recovers; /metrics stays a read."""

from __future__ import annotations

import time
from pathlib import Path

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import workflow
from devstack.servers import wait_until
from exporter.runtime import Runtime
from exporter.sources import build
from tests.exporter.argo.conftest import EPOCH, argo_config, at


def test_argo_source_in_the_runtime(api: FakeKubeAPI, kubeconfig: Path) -> None:
    api.create(WORKFLOWS, workflow("deploy-a", started=at(10), finished=at(130)))
    runtime = Runtime([build(argo_config(kubeconfig, interval="2s"), process_start=EPOCH)])
    runtime.start()
    try:
        wait_until(runtime.is_ready, 15, "runtime ready")
        counted = (
            b'idp_deployments_total{cluster="us-east-1",environment="production",'
            b'result="succeeded",template="deployment-standard"} 1.0'
        )
        wait_until(lambda: counted in runtime.exposition().text, 15, "deployment exposed")
        assert b'idp_exporter_source_up{source="us-east-1"} 1.0' in runtime.exposition().text

        api.stop()
        down = b'idp_exporter_source_up{source="us-east-1"} 0.0'
        wait_until(lambda: down in runtime.exposition().text, 15, "source down")
        text = runtime.exposition().text
        assert b'idp_exporter_source_errors_total{reason="connection",source="us-east-1"}' in text
        assert counted not in text  # withdrawn while down
        t0 = time.perf_counter()
        for _ in range(100):
            runtime.exposition()
        assert time.perf_counter() - t0 < 0.5  # a scrape never waits on the source

        api.start()
        wait_until(lambda: counted in runtime.exposition().text, 20, "recovered")
        assert b'idp_exporter_source_up{source="us-east-1"} 1.0' in runtime.exposition().text
    finally:
        runtime.stop()
        api.stop()
