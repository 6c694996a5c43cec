"""The federation variant of test_clusters.py: the central Prometheus pulls the base
recordings from each cluster's /federate (`honor_labels`, the cluster external label added
by the federated Prometheus) instead of receiving them by remote_write. Same global rules,
same answers: the traffic-weighted ratio, and a lost cluster pages instead of improving
the SLI. A failed federation scrape marks its series stale at once, so here the lost
cluster's base recordings vanish without waiting for the lookback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.servers import wait_until
from devstack.topology import Topology

from .test_clusters import COUNTS, SLO, SPEC, WEIGHTED, deploy_and_settle, topology_up


@pytest.fixture
def federated(tmp_path: Path) -> Iterator[Topology]:
    with topology_up(tmp_path, federate=True) as t:
        yield t


def test_federated_base_recordings_give_the_same_global_sli(federated: Topology) -> None:
    central = federated.global_view()
    assert federated.reporting() == set(COUNTS)
    assert central.query("idp_deployments_total") == []  # /federate matched only the base
    for cluster in COUNTS:
        deploy_and_settle(federated, cluster)
    # The instant global ratio (5m base): errors summed / totals summed over the clusters.
    ratio = f"slo:sli_error:ratio_rate5m{{{SLO}}}"
    assert central.value(ratio) == pytest.approx(WEIGHTED, rel=0.05)

    federated.prometheus("us-west-1").stop()
    wait_until(
        lambda: central.firing("SLOClusterMissing", slo_spec=SPEC, cluster="us-west-1"),
        30,
        "SLOClusterMissing for us-west-1",
        0.25,
    )
    assert central.value(ratio) is None
    assert central.query(f"slo:sli_global_total_events:rate5m{{{SLO}}}") == []
