"""HTTP probe: is one URL up, and how fast does it answer.

Every probe opens a fresh connection (no keep-alive), like blackbox_exporter, so a dead
listener or broken TLS shows up at once instead of hiding behind a pooled connection.

Outcomes (CONTRACT §5): a wrong status or body is data (probe_success 0, a failure
counted) and the refresh itself succeeded. A timeout or a refused/broken connection is
data too, and additionally a source error with reason timeout/connection, so
`idp_exporter_source_up` says the target could not be reached. The probe's counters and
histogram are the probe's own state, never stale target data, so they stay exposed while
the target is down.

Duration is observed for every probe that got an answer, and for timeouts (as the
time waited): a timeout is the slowest answer there is, and leaving it out would make the
latency SLI look better during an outage. Refused connections are not observed.
"""

from __future__ import annotations

import re
import ssl
import threading
import time

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

    def refresh(self) -> Snapshot:
        started = time.monotonic()
        error: SourceError | None = None
        try:
            ok = self._probe()
        except httpx.TimeoutException as exc:
            ok, error = False, SourceError("timeout", self._describe(exc))
        except httpx.HTTPError as exc:
            ok, error = False, SourceError("connection", self._describe(exc))
        elapsed = time.monotonic() - started
        with self._lock:
            self._success = 1.0 if ok else 0.0
            self._results["success" if ok else "failure"] += 1
            if error is None or error.reason == "timeout":
                self._duration.observe(elapsed)
        if error is not None:
            raise error
        return self._snapshot()

    def down_snapshot(self) -> Snapshot:
        return self._snapshot()

    def close(self) -> None:
        self._client.close()

    def _probe(self) -> bool:
        cfg = self._cfg
        deadline = time.monotonic() + cfg.timeout
        with self._client.stream(cfg.method, cfg.url) as response:
            if response.status_code not in self._expected:
                return False
            if self._regex is None:
                return True
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                # httpx times each read, not the whole body; a trickling server must not
                # hold the probe past its timeout.
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("body not received within the timeout")
                if len(body) >= MAX_BODY:
                    break
            text = body[:MAX_BODY].decode(response.encoding or "utf-8", errors="replace")
            return self._regex.search(text) is not None

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
