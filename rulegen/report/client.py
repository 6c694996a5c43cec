"""A small Prometheus HTTP API client: instant and range queries, auth, TLS, timeouts.

Every failure becomes a ReportError whose message names the server's URL (without any
credentials) and never the token or password, so it can go to a terminal or a CI log.
"""

from __future__ import annotations

import math
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from rulegen.report.auth import Auth

DEFAULT_TIMEOUT = 30.0

Point = tuple[float, float]  # (Unix seconds, value)


class ReportError(Exception):
    """Prometheus could not answer: unreachable, refused the credentials, or a query failed."""


@dataclass(frozen=True)
class Series:
    """One result series: its labels and its points (one for an instant vector)."""

    labels: dict[str, str]
    points: tuple[Point, ...]

    @property
    def value(self) -> float:
        """The last point's value (an instant vector has exactly one)."""
        return self.points[-1][1]


def public_url(url: str) -> str:
    """`url` without user:password@, fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _number(text: str) -> float:
    # Prometheus sends values as strings: "NaN", "+Inf" and "-Inf" included.
    return float(text)


def _series(result_type: str, result: Any) -> list[Series]:
    """Vectors, matrices and scalars as Series; NaN points dropped (no data, not a value)."""
    if result_type == "scalar":
        result = [{"metric": {}, "value": result}]
    out: list[Series] = []
    for item in result:
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        raw = [item["value"]] if "value" in item else item["values"]
        points = tuple((float(t), _number(v)) for t, v in raw)
        points = tuple(p for p in points if not math.isnan(p[1]))
        if points:
            out.append(Series(labels, points))
    return out


class PrometheusClient:
    def __init__(
        self,
        url: str,
        auth: Auth | None = None,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = public_url(url)
        verify: ssl.SSLContext | bool = True
        if ca_file:
            verify = ssl.create_default_context(cafile=ca_file)
        self._http = httpx.Client(
            base_url=self.url,
            auth=auth.httpx() if auth else None,
            verify=verify,
            timeout=timeout,
            headers={"User-Agent": "idp-rulegen-report"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def instant(self, promql: str, at: float) -> list[Series]:
        return self._query("/api/v1/query", {"query": promql, "time": _ts(at)}, promql)

    def range(self, promql: str, start: float, end: float, step: int) -> list[Series]:
        params = {"query": promql, "start": _ts(start), "end": _ts(end), "step": str(step)}
        return self._query("/api/v1/query_range", params, promql)

    def _query(self, path: str, params: dict[str, str], promql: str) -> list[Series]:
        where = f"Prometheus at {self.url}"
        try:
            # POST: the period queries are long, and a GET URL has a length limit.
            resp = self._http.post(path, data=params)
        except httpx.TimeoutException:
            raise ReportError(f"{where} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ReportError(f"cannot reach {where}: {type(exc).__name__}: {exc}") from None
        if resp.status_code in (401, 403):
            raise ReportError(
                f"{where} refused the request (HTTP {resp.status_code}): check the credentials"
            )
        try:
            body = resp.json()
        except ValueError:
            raise ReportError(
                f"{where} answered HTTP {resp.status_code} with something that is not the "
                "Prometheus API; is the URL right?"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", f"HTTP {resp.status_code}") if isinstance(body, dict) else ""
            raise ReportError(f"{where} rejected a query: {error}\n  query: {promql}")
        data = body["data"]
        return _series(data["resultType"], data["result"])


def _ts(seconds: float) -> str:
    return f"{seconds:.3f}"
