"""Argo Workflow objects -> small `Workflow` records (the only thing kept per workflow).

The projection decides, once per object, everything the counting needs: which role the
workflow plays (deployment, rollback or neither), its bounded template and environment
label values, its phase and timestamps. The rest of the object (status.nodes can be
hundreds of KB) is dropped by the caller right after.

Selection (the `deployments`/`rollbacks` config): a workflow's template is
spec.workflowTemplateRef.name, else the `workflows.argoproj.io/workflow-template` (or
cluster-workflow-template) label. It is a rollback if that template is a configured
rollback template; otherwise a deployment if the template is a configured deployment
template or its labels match the configured label selector (then its template label is
`other` unless the template is configured).

A deployment whose timestamps cannot be read is still a workflow in its phase: the
projection raises `Incomplete` with the record it could make (shown in idp_workflows,
reported as a parse error). Completed without a readable finishedAt: not counted (the
attempt cannot be told apart from another one, see argo_state.py) until an update
brings one. Succeeded without a usable startedAt: counted, without a duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from exporter import labelselector
from exporter.labelvalues import OTHER, UNKNOWN
from exporter.sources import kube_fields as f
from exporter.sources.environments import fold_environment

DEPLOYMENT = "deployment"
ROLLBACK = "rollback"

# Argo's workflow phases. "" (not yet seen by the controller) is reported as Pending:
# either way the workflow is waiting in the queue.
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
RESULTS = {"Succeeded": "succeeded", "Failed": "failed", "Error": "error"}

TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
CLUSTER_TEMPLATE_LABEL = "workflows.argoproj.io/cluster-workflow-template"
COMPLETED_LABEL = "workflows.argoproj.io/completed"


# The fields of a Workflow object that the projection below and the reflector read: the
# decoder skips everything else (status.nodes is most of an object). Leaves are Any so
# the projection, not the decoder, checks their types.
class _Metadata(TypedDict, total=False):
    uid: Any
    name: Any
    namespace: Any
    resourceVersion: Any
    labels: Any


class _Spec(TypedDict, total=False):
    workflowTemplateRef: Any
    arguments: Any


class _StoredTemplate(TypedDict, total=False):
    arguments: Any


class _Status(TypedDict, total=False):
    phase: Any
    startedAt: Any
    finishedAt: Any
    storedWorkflowTemplateSpec: _StoredTemplate


class WorkflowShape(TypedDict, total=False):
    metadata: _Metadata
    spec: _Spec
    status: _Status


@dataclass(frozen=True, slots=True)
class Workflow:
    namespace: str
    phase: str  # one of PHASES, or "unknown"
    role: str | None = None  # DEPLOYMENT, ROLLBACK or None
    template: str = ""  # bounded label value; only for deployments
    environment: str = ""  # bounded label value; only for deployments and rollbacks
    started: float | None = None  # None also when unusable for a duration
    finished: float | None = None  # None while in flight, or when unreadable

    @property
    def result(self) -> str | None:
        """succeeded / failed / error once completed, else None."""
        return RESULTS.get(self.phase)


class WorkflowProjector:
    """Callable turning a decoded Workflow object into a `Workflow`; ValueError if malformed."""

    def __init__(
        self,
        deploy_templates: list[str],
        label_selector: str | None,
        environment_parameter: str,
        environments: list[str],
        rollback_templates: list[str] | None = None,
        rollback_environment_parameter: str = "environment",
    ) -> None:
        self._deploy_templates = frozenset(deploy_templates)
        self._selector = labelselector.parse(label_selector) if label_selector else None
        self._env_param = environment_parameter
        self._environments = frozenset(environments)
        self._rollback_templates = frozenset(rollback_templates or ())
        self._rollback_env_param = rollback_environment_parameter
        # Plain workflows differ only by (namespace, phase): share one record per pair.
        self._plain: dict[tuple[str, str], Workflow] = {}

    def __call__(self, obj: Mapping[str, Any]) -> Workflow:
        meta = f.mapping(obj, "metadata")
        labels = f.labels(meta)
        namespace = f.string(meta, "namespace")
        status = f.mapping(obj, "status")
        if not status and labels.get(COMPLETED_LABEL) == "true":
            raise ValueError("completed workflow without status")
        phase = _fold_phase(f.string(status, "phase"))
        spec = f.mapping(obj, "spec")
        template = (
            f.string(f.mapping(spec, "workflowTemplateRef"), "name")
            or labels.get(TEMPLATE_LABEL)
            or labels.get(CLUSTER_TEMPLATE_LABEL)
            or ""
        )
        if template in self._rollback_templates:
            role, param = ROLLBACK, self._rollback_env_param
        elif template in self._deploy_templates or (
            self._selector is not None and self._selector.matches(labels)
        ):
            role, param = DEPLOYMENT, self._env_param
        else:
            return self._plain_record(namespace, phase)

        problems: list[str] = []
        started = _time(status, "startedAt", problems)
        finished = _time(status, "finishedAt", problems)
        if phase in RESULTS:
            if finished is None:
                problems.append("completed without a readable status.finishedAt: not counted")
            elif phase == "Succeeded" and (started is None or finished < started):
                problems.append("no valid status.startedAt: counted without a duration")
                started = None
        record = Workflow(
            namespace=namespace,
            phase=phase,
            role=role,
            template=(template if template in self._deploy_templates else OTHER)
            if role == DEPLOYMENT
            else "",
            environment=fold_environment(_environment(spec, status, param), self._environments),
            started=started,
            finished=finished,
        )
        if problems:
            raise f.Incomplete(record, "; ".join(problems))
        return record

    def _plain_record(self, namespace: str, phase: str) -> Workflow:
        key = (namespace, phase)
        record = self._plain.get(key)
        if record is None:
            record = self._plain[key] = Workflow(namespace, phase)
        return record


def _fold_phase(phase: str) -> str:
    if phase == "":
        return "Pending"
    return phase if phase in PHASES else UNKNOWN


def _time(status: Mapping[str, Any], key: str, problems: list[str]) -> float | None:
    """A status timestamp, or None (noting why) when it is there but unreadable."""
    try:
        return f.timestamp(status, key)
    except ValueError as exc:
        problems.append(f"status.{key} unreadable ({str(exc)[:80]})")
        return None


def _environment(spec: Mapping[str, Any], status: Mapping[str, Any], name: str) -> str | None:
    # A workflow started from a WorkflowTemplate may rely on the template's default; the
    # controller stores the resolved template (with its arguments) in the status.
    value = f.parameter(spec, name)
    if value is None:
        value = f.parameter(f.mapping(status, "storedWorkflowTemplateSpec"), name)
    return value
