"""Connecting to one Kubernetes API server, and naming why a request failed.

One `ApiClient` per source (per cluster): its connection pool is shared by that
cluster's list and watch threads and by nothing else.
"""

from __future__ import annotations

import socket
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

# The config loaders are untyped; name them once as Any rather than ignore each call.
_load_kube_config: Any = k8s_config.load_kube_config
_load_incluster_config: Any = k8s_config.load_incluster_config


def api_client(kubeconfig: str | None, context: str | None, pool_size: int) -> Any:
    """An ApiClient for a kubeconfig file + context, or in-cluster when kubeconfig is empty.

    urllib3's own retries are off: a read timeout would otherwise be retried three times
    inside one call, and the reflector already retries with backoff and reports each
    failure.
    """
    cfg = k8s.Configuration()
    if kubeconfig:
        _load_kube_config(
            config_file=kubeconfig,
            context=context or None,
            client_configuration=cfg,
            persist_config=False,
        )
    else:
        _load_incluster_config(client_configuration=cfg)
    cfg.retries = False
    # One connection per concurrent watch plus one for lists, so none waits for a slot.
    cfg.connection_pool_maxsize = max(pool_size, 4)
    return k8s.ApiClient(cfg)


class Gone(Exception):
    """The resourceVersion is too old (HTTP 410 or a watch ERROR event with code 410)."""


def is_gone(exc: BaseException) -> bool:
    return isinstance(exc, Gone) or (isinstance(exc, ApiException) and exc.status == 410)


def classify(exc: BaseException) -> str:
    """The catalog's error reason for an exception raised while talking to the API."""
    if isinstance(exc, ApiException):
        if exc.status in (401, 403):
            return "auth"
        if exc.status in (408, 504):
            return "timeout"
        if exc.status == 0:  # the client maps TLS failures to status 0
            return "connection"
        return "other"
    if isinstance(exc, ConfigException | FileNotFoundError):
        # A wrong context or a missing kubeconfig: we cannot authenticate to the cluster.
        return "auth"
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return classify(exc.reason)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        # Checked first: urllib3 derives it from ConnectTimeoutError for history's sake.
        return "connection"
    if isinstance(exc, urllib3.exceptions.TimeoutError | socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(
        exc,
        urllib3.exceptions.ProtocolError | urllib3.exceptions.SSLError | ConnectionError,
    ):
        return "connection"
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return "connection"
    if isinstance(exc, ValueError | KeyError | TypeError):
        return "parse"  # an unreadable response body (json.JSONDecodeError is a ValueError)
    return "other"


def describe(exc: BaseException) -> str:
    """A short log line for an exception, without response bodies or headers."""
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason or ''}".strip()
    return f"{type(exc).__name__}: {exc}"[:300]
