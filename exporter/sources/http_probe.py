"""HTTP probe: is one URL up, and how fast does it answer.

Every probe opens a fresh connection (no keep-alive), like blackbox_exporter, so a dead
listener or broken TLS shows up at once instead of hiding behind a pooled connection.

Outcomes (docs/exporter.md): a wrong status or body is data (probe_success 0, a failure
counted) and the refresh itself succeeded. A timeout or a refused/broken connection is
data too, and additionally a source error with reason timeout/connection, so
`idp_exporter_source_up` says the target could not be reached. The probe's counters and
histogram are the probe's own state, never stale target data, so they stay exposed while
the target is down.

Duration is observed for every probe that got an answer, and for timeouts (as the
time waited): a timeout is the slowest answer there is, and leaving it out would make the
latency SLI look better during an outage. Refused connections are not observed.

`timeout` bounds the whole probe (connect, TLS, headers, body), as blackbox_exporter's
does: httpx only times each read, so a target trickling a header byte at a time would
otherwise hold a probe, and its last success, forever. A probe the runtime's watchdog
gives up on is a failure at once, and stays one when it finally returns.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import time
from typing import Any

import httpx

from common.catalog import PROBE_BUCKETS
from exporter import __version__, families
from exporter.config import HttpSourceConfig
from exporter.logs import redact
from exporter.sources.base import Snapshot, SourceError

MAX_BODY = 1 << 20  # bytes read for body_regex; a health page is small


class HttpProbe:
    """A Poller probing one URL."""

    def __init__(self, cfg: HttpSourceConfig) -> None:
        self.name = cfg.name
        self.interval = cfg.interval
        self.timeout = cfg.timeout
        self._cfg = cfg
        self._regex = re.compile(cfg.body_regex) if cfg.body_regex else None
        self._expected = frozenset(cfg.expected_status or range(200, 300))
        verify: ssl.SSLContext | bool = not cfg.insecure_skip_verify
        if cfg.ca_file and not cfg.insecure_skip_verify:
            verify = ssl.create_default_context(cafile=cfg.ca_file)
        self._client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(cfg.timeout),
            follow_redirects=cfg.follow_redirects,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": f"idp-exporter/{__version__}"},
            trust_env=False,  # a proxy from the environment would change what is measured
        )
        self._lock = threading.Lock()  # refresh and down_snapshot may run on two threads
        self._success = 0.0
        self._results = {"success": 0, "failure": 0}
        self._duration = families.Histogram(PROBE_BUCKETS)
        self._probing = False  # a refresh is in progress
        self._abandoned = False  # ... and the watchdog gave up on it (counted as failed)

    def refresh(self) -> Snapshot:
        started = time.monotonic()
        with self._lock:
            self._probing, self._abandoned = True, False
        deadline = _Deadline(self.timeout)
        error: SourceError | None = None
        try:
            with deadline:
                ok = self._probe(deadline)
            if deadline.passed():
                ok, error = False, SourceError("timeout", self._late())
        except httpx.HTTPError as exc:
            if deadline.passed() or isinstance(exc, httpx.TimeoutException):
                ok, error = False, SourceError("timeout", self._late())
            else:
                ok, error = False, SourceError("connection", self._describe(exc))
        except (httpx.InvalidURL, UnicodeError) as exc:  # e.g. a redirect to a broken URL
            ok, error = False, SourceError("other", self._describe(exc))
        elapsed = time.monotonic() - started
        with self._lock:
            self._probing = False
            if self._abandoned:  # already counted as a failure; a late answer changes nothing
                raise SourceError("timeout", self._late())
            self._success = 1.0 if ok else 0.0
            self._results["success" if ok else "failure"] += 1
            if error is None or error.reason == "timeout":
                self._duration.observe(elapsed)
        if error is not None:
            raise error
        return self._snapshot()

    def down_snapshot(self) -> Snapshot:
        """Called when a refresh failed, or by the watchdog when one overran: either way
        the target is not known to be up."""
        with self._lock:
            if self._probing and not self._abandoned:
                self._abandoned = True
                self._results["failure"] += 1
            self._success = 0.0
        return self._snapshot()

    def close(self) -> None:
        self._client.close()

    def _probe(self, deadline: _Deadline) -> bool:
        cfg = self._cfg
        with self._client.stream(
            cfg.method, cfg.url, extensions={"trace": deadline.trace}
        ) as response:
            if response.status_code not in self._expected:
                return False
            if self._regex is None:
                return True
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BODY:
                    break
            text = body[:MAX_BODY].decode(response.encoding or "utf-8", errors="replace")
            return self._regex.search(text) is not None

    def _late(self) -> str:
        return f"{self.name}: no complete answer within {self.timeout:g}s"

    def _describe(self, exc: Exception) -> str:
        return redact(f"{self.name}: {type(exc).__name__}: {exc}")

    def _snapshot(self) -> Snapshot:
        target = (self.name,)
        with self._lock:
            return [
                families.samples("idp_probe_success", {target: self._success}),
                families.samples(
                    "idp_probes_total",
                    {(self.name, result): float(n) for result, n in self._results.items()},
                ),
                families.histogram_family("idp_probe_duration_seconds", {target: self._duration}),
            ]


class _Deadline:
    """Ends a probe when its time is up by shutting down the connections it opened,
    which wakes a connect's TLS handshake or a read in progress, whatever its own timeout.

    httpx reports each new connection to the `trace` hook. A duplicate of its socket is
    kept (and closed on exit): the original is handed over to TLS mid-handshake, and the
    duplicate stays a valid handle on the same connection until the probe is over."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._handles: list[socket.socket] = []
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            handles, self._handles = self._handles, []
        for handle in handles:
            handle.close()

    def passed(self) -> bool:
        # The clock as well as the timer: a starved timer thread must not make a late
        # answer look timely.
        return self._expired or time.monotonic() >= self._end

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        handle = info["return_value"].get_extra_info("socket").dup()
        with self._lock:
            self._handles.append(handle)
            if self._expired:  # connected only after the deadline
                _shutdown(handle)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for handle in self._handles:
                _shutdown(handle)


def _shutdown(handle: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer may have closed it already
        handle.shutdown(socket.SHUT_RDWR)
