"""The fake API server behaves like the real one for the official, unmodified client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from devstack.kube_api import WORKFLOWS, FakeKubeAPI
from devstack.objects import workflow

GROUP = ("argoproj.io", "v1alpha1")


def objects_api(kubeconfig: Path) -> Any:
    return k8s.CustomObjectsApi(k8s_config.new_client_from_config(str(kubeconfig), context="fake"))


def test_paginated_list_is_a_consistent_snapshot(api: FakeKubeAPI, kubeconfig: Path) -> None:
    for i in range(5):
        api.create(WORKFLOWS, workflow(f"wf-{i}", labels={"team": "a" if i % 2 else "b"}))
    objs = objects_api(kubeconfig)
    first = objs.list_namespaced_custom_object(*GROUP, "argo", "workflows", limit=2)
    assert [o["metadata"]["name"] for o in first["items"]] == ["wf-0", "wf-1"]
    api.create(WORKFLOWS, workflow("wf-00"))  # after the snapshot: not in later pages
    api.delete(WORKFLOWS, "argo", "wf-4")  # still in the snapshot
    rest = objs.list_namespaced_custom_object(
        *GROUP, "argo", "workflows", limit=10, _continue=first["metadata"]["continue"]
    )
    assert [o["metadata"]["name"] for o in rest["items"]] == ["wf-2", "wf-3", "wf-4"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert "continue" not in rest["metadata"]
    selected = objs.list_namespaced_custom_object(
        *GROUP, "argo", "workflows", label_selector="team=a"
    )
    assert [o["metadata"]["name"] for o in selected["items"]] == ["wf-1", "wf-3"]
    assert all(len(o["metadata"]["uid"]) == 36 for o in first["items"])


def test_expired_continue_token_is_410(api: FakeKubeAPI, kubeconfig: Path) -> None:
    for i in range(3):
        api.create(WORKFLOWS, workflow(f"wf-{i}"))
    objs = objects_api(kubeconfig)
    first = objs.list_namespaced_custom_object(*GROUP, "argo", "workflows", limit=1)
    api.compact()
    with pytest.raises(ApiException) as err:
        objs.list_namespaced_custom_object(
            *GROUP, "argo", "workflows", limit=1, _continue=first["metadata"]["continue"]
        )
    assert err.value.status == 410


def test_watch_streams_changes_bookmarks_and_ends_at_timeout(
    api: FakeKubeAPI, kubeconfig: Path
) -> None:
    api.create(WORKFLOWS, workflow("wf-0", phase="Running"))
    objs = objects_api(kubeconfig)
    rv = objs.list_namespaced_custom_object(*GROUP, "argo", "workflows")["metadata"][
        "resourceVersion"
    ]
    api.modify(WORKFLOWS, "argo", "wf-0", lambda o: o["status"].update(phase="Succeeded"))
    api.create(WORKFLOWS, workflow("wf-1", namespace="other"))  # another namespace
    api.delete(WORKFLOWS, "argo", "wf-0")
    seen = [
        (e["type"], e["object"]["metadata"].get("name"))
        for e in watch.Watch().stream(
            objs.list_namespaced_custom_object,
            *GROUP,
            "argo",
            "workflows",
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=1,
            _request_timeout=5,
        )
    ]
    assert seen[:2] == [("MODIFIED", "wf-0"), ("DELETED", "wf-0")]
    assert ("BOOKMARK", None) in seen[2:]  # every 0.2 s in these tests
    assert set(seen[2:]) == {("BOOKMARK", None)}


def test_watch_from_a_compacted_version_is_410(api: FakeKubeAPI, kubeconfig: Path) -> None:
    api.create(WORKFLOWS, workflow("wf-0"))
    objs = objects_api(kubeconfig)
    rv = objs.list_namespaced_custom_object(*GROUP, "argo", "workflows")["metadata"][
        "resourceVersion"
    ]
    api.create(WORKFLOWS, workflow("wf-1"))
    api.compact()
    with pytest.raises(ApiException) as err:
        for _ in watch.Watch().stream(
            objs.list_namespaced_custom_object,
            *GROUP,
            "argo",
            "workflows",
            resource_version=rv,
            timeout_seconds=2,
            _request_timeout=5,
        ):
            pass
    assert err.value.status == 410


def test_auth_faults_and_discovery(api: FakeKubeAPI, kubeconfig: Path) -> None:
    objs = objects_api(kubeconfig)
    api.fail(403, times=1)
    with pytest.raises(ApiException) as err:
        objs.list_namespaced_custom_object(*GROUP, "argo", "workflows")
    assert err.value.status == 403
    objs.list_namespaced_custom_object(*GROUP, "argo", "workflows")  # only once
    version = k8s.VersionApi(objs.api_client).get_code()
    assert version.git_version.endswith("fake")
    groups = k8s.ApisApi(objs.api_client).get_api_versions()
    assert {g.name for g in groups.groups} == {"argoproj.io", "batch"}
