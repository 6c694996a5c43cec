"""Realistic Argo Workflow, ArgoCD Application and CronJob objects for the fake API.

Workflows are shaped like what the Argo controller writes (labels, workflowTemplateRef,
arguments, status.nodes with one entry per step, outputs, resourcesDuration) and weigh
5-20 KB depending on `steps`, so list and watch costs in tests and benchmarks resemble a
real cluster's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

COMPLETED = ("Succeeded", "Failed", "Error")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def workflow(
    name: str,
    *,
    namespace: str = "argo",
    phase: str = "Succeeded",
    template: str | None = "deployment-standard",
    environment: str | None = "production",
    started: float | None = None,
    finished: float | None = None,
    steps: int = 12,
    labels: dict[str, str] | None = None,
    parameter: str = "environment",
) -> dict[str, Any]:
    """A Workflow in `phase`. `steps` pod nodes (~700 B each) set its size: 6 ~ 6 KB, 25 ~ 20 KB."""
    started = time.time() - 600 if started is None else started
    done = phase in COMPLETED
    if done and finished is None:
        finished = started + 300
    wf_labels = {
        "workflows.argoproj.io/completed": "true" if done else "false",
        "workflows.argoproj.io/creator": "system-serviceaccount-argo-backstage",
        "backstage.io/component": f"service-{int(hashlib.md5(name.encode()).hexdigest()[:4], 16) % 50}",
    }
    if phase:
        wf_labels["workflows.argoproj.io/phase"] = phase
    spec: dict[str, Any] = {
        "arguments": {
            "parameters": [
                {"name": "service", "value": wf_labels["backstage.io/component"]},
                {"name": "image-tag", "value": "v1.42." + str(len(name))},
                {"name": "replicas", "value": "3"},
            ]
        },
        "serviceAccountName": "argo-workflow",
        "podGC": {"strategy": "OnWorkflowSuccess"},
        "ttlStrategy": {"secondsAfterCompletion": 86400},
    }
    if environment is not None:
        spec["arguments"]["parameters"].insert(0, {"name": parameter, "value": environment})
    if template is not None:
        wf_labels["workflows.argoproj.io/workflow-template"] = template
        spec["workflowTemplateRef"] = {"name": template}
    wf_labels.update(labels or {})
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "generateName": name.rsplit("-", 1)[0] + "-",
            "labels": wf_labels,
            "annotations": {
                "workflows.argoproj.io/pod-name-format": "v2",
                "backstage.io/triggered-by": "user:default/jane.doe",
            },
        },
        "spec": spec,
    }
    if phase:
        obj["status"] = _status(name, phase, started, finished, steps, template or "main")
    return obj


def _status(
    name: str, phase: str, started: float, finished: float | None, steps: int, template: str
) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    children = []
    step_phase = "Succeeded" if phase in ("Succeeded", "Running", "Pending") else phase
    for i in range(steps):
        node_id = f"{name}-{int(hashlib.md5(f'{name}{i}'.encode()).hexdigest()[:8], 16)}"
        children.append(node_id)
        t0 = started + i * 20
        node_phase = "Running" if phase == "Running" and i == steps - 1 else step_phase
        nodes[node_id] = {
            "id": node_id,
            "name": f"{name}[{i}].{_STEP_NAMES[i % len(_STEP_NAMES)]}",
            "displayName": _STEP_NAMES[i % len(_STEP_NAMES)],
            "type": "Pod",
            "templateName": _STEP_NAMES[i % len(_STEP_NAMES)],
            "templateScope": f"namespaced/{template}",
            "phase": node_phase,
            "boundaryID": name,
            "startedAt": rfc3339(t0),
            "finishedAt": None if node_phase == "Running" else rfc3339(t0 + 18),
            "progress": "1/1",
            "resourcesDuration": {"cpu": 17 + i, "memory": 1043 + 13 * i},
            "hostNodeName": f"ip-10-0-{i % 7}-{(i * 37) % 250}.ec2.internal",
            "outputs": {
                "artifacts": [
                    {
                        "name": "main-logs",
                        "s3": {"key": f"{name}/{node_id}/main.log"},
                    }
                ],
                "exitCode": "0" if node_phase != "Failed" else "2",
            },
            "message": "" if node_phase != "Failed" else "Error (exit code 2): helm upgrade failed",
            "inputs": {
                "parameters": [
                    {"name": "service", "value": "payments"},
                    {"name": "image-tag", "value": "v1.42.7"},
                ]
            },
        }
    nodes[name] = {
        "id": name,
        "name": name,
        "displayName": name,
        "type": "Steps",
        "templateName": "main",
        "phase": phase,
        "startedAt": rfc3339(started),
        "finishedAt": rfc3339(finished) if finished is not None else None,
        "children": children,
        "progress": f"{steps}/{steps}",
    }
    status: dict[str, Any] = {
        "phase": phase,
        "startedAt": rfc3339(started),
        "finishedAt": rfc3339(finished) if finished is not None else None,
        "progress": f"{steps}/{steps}",
        "estimatedDuration": 300,
        "nodes": nodes,
        "conditions": [
            {"type": "PodRunning", "status": "False"},
            {"type": "Completed", "status": "True" if phase in COMPLETED else "False"},
        ],
        "resourcesDuration": {"cpu": 17 * steps, "memory": 1043 * steps},
        "artifactRepositoryRef": {"configMap": "artifact-repositories", "key": "default"},
    }
    if phase == "Failed":
        status["message"] = f"child '{children[-1] if children else name}' failed"
    return status


def completed(phase: str, finished: float) -> Callable[[dict[str, Any]], None]:
    """A change (for FakeKubeAPI.modify) completing a workflow as the controller does."""

    def change(obj: dict[str, Any]) -> None:
        obj["status"]["phase"] = phase
        obj["status"]["finishedAt"] = rfc3339(finished)
        obj["metadata"]["labels"]["workflows.argoproj.io/completed"] = "true"
        obj["metadata"]["labels"]["workflows.argoproj.io/phase"] = phase

    return change


def retried(
    started: float | None = None, phase: str = "Running"
) -> Callable[[dict[str, Any]], None]:
    """A change doing what `argo retry` does to a Failed/Error workflow: same object and
    UID, phase reset (Running, or "" in older releases), finishedAt cleared, the
    completed label removed and failed nodes dropped. Some releases also reset startedAt
    to the retry's time (`started`); others keep the first attempt's (None)."""

    def change(obj: dict[str, Any]) -> None:
        status = obj["status"]
        status["phase"] = phase
        status["finishedAt"] = None
        status.pop("message", None)
        if started is not None:
            status["startedAt"] = rfc3339(started)
        status["nodes"] = {
            k: n for k, n in status.get("nodes", {}).items() if n.get("phase") == "Succeeded"
        }
        labels = obj["metadata"]["labels"]
        labels.pop("workflows.argoproj.io/completed", None)
        labels["workflows.argoproj.io/phase"] = phase or "Running"

    return change


_STEP_NAMES = (
    "checkout",
    "render-manifests",
    "policy-check",
    "helm-upgrade",
    "wait-rollout",
    "smoke-test",
    "notify",
)


def application(
    name: str,
    *,
    namespace: str = "argocd",
    environment: str | None = "production",
    history: list[tuple[int, str, float, float | None]] | None = None,
    label: str = "environment",
) -> dict[str, Any]:
    """An Application; `history` entries are (id, revision, deployedAt, deployStartedAt)."""
    labels = {"app.kubernetes.io/part-of": "backstage"}
    if environment is not None:
        labels[label] = environment
    entries = []
    for entry_id, revision, deployed, started in history or []:
        entry: dict[str, Any] = {
            "id": entry_id,
            "revision": revision,
            "deployedAt": rfc3339(deployed),
            "source": {
                "repoURL": "https://github.com/company/deployments.git",
                "path": f"apps/{name}",
                "targetRevision": "HEAD",
            },
            "initiatedBy": {"username": "jane.doe"},
        }
        if started is not None:
            entry["deployStartedAt"] = rfc3339(started)
        entries.append(entry)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://github.com/company/deployments.git",
                "path": f"apps/{name}",
                "targetRevision": "HEAD",
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "revisionHistoryLimit": 10,
        },
        "status": {
            "history": entries,
            "sync": {"status": "Synced", "revision": entries[-1]["revision"] if entries else ""},
            "health": {"status": "Healthy"},
        },
    }


def cronjob(
    name: str,
    *,
    namespace: str = "backstage",
    schedule: str = "0 */6 * * *",
    last_success: float | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if last_success is not None:
        status["lastSuccessfulTime"] = rfc3339(last_success)
        status["lastScheduleTime"] = rfc3339(last_success - 120)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [
                                {
                                    "name": "pg-dump",
                                    "image": "postgres:15",
                                    "command": [
                                        "/bin/sh",
                                        "-c",
                                        "pg_dump backstage | gzip > /backup/db.gz",
                                    ],
                                }
                            ],
                        }
                    }
                }
            },
        },
        "status": status,
    }
