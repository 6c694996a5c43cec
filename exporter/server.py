"""The HTTP endpoints: /metrics, /healthz, /readyz and a landing page.

Built on the stdlib's ThreadingHTTPServer, with the fixes prometheus_client's own server
lacks: the TLS handshake runs in the connection's thread under a timeout (wrapping the
listening socket would let one silent client stall every scrape), scrapes beyond a bound
get 503 instead of piling up threads, and /metrics only copies pre-rendered bytes.
"""

from __future__ import annotations

import html
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from exporter import __version__
from exporter.auth import BasicAuth, Verdict
from exporter.config import TLSConfig
from exporter.runtime import Runtime

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 5.0  # a client must finish TLS within this or be dropped
IDLE_TIMEOUT = 60.0  # keep-alive connections idle longer than this are closed

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

LANDING = """<!DOCTYPE html>
<html><head><title>idp-exporter</title></head>
<body><h1>idp-exporter</h1><p>version {version}</p>
<ul><li><a href="metrics">metrics</a></li><li><a href="healthz">healthz</a></li>
<li><a href="readyz">readyz</a></li></ul></body></html>
"""


def tls_context(cfg: TLSConfig) -> ssl.SSLContext:
    """A server context from the config; raises ssl.SSLError/OSError if files are bad."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if cfg.client_ca_file:
        ctx.load_verify_locations(cafile=cfg.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def wants_openmetrics(accept: str | None) -> bool:
    """OpenMetrics if the client accepts it at least as much as text/plain."""
    if not accept:
        return False
    om = text = 0.0
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media == "application/openmetrics-text":
            om = max(om, q)
        elif media in ("text/plain", "text/*", "*/*"):
            text = max(text, q)
    return om > 0 and om >= text


def wants_gzip(accept_encoding: str | None) -> bool:
    for part in (accept_encoding or "").split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() == "gzip":
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for p in params)
    return False


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog. With 128, 200 clients opening a connection per scrape overflowed
    # the accept queue (the kernel drops the SYN; the client retries after 1 s, 3 s, 7 s):
    # 2.7 % of scrapes took over a second and 0.06 % timed out. The kernel caps it at
    # net.core.somaxconn (4096 by default).
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        runtime: Runtime,
        *,
        ssl_context: ssl.SSLContext | None = None,
        auth: BasicAuth | None = None,
        max_requests: int = 40,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.runtime = runtime
        self.ssl_context = ssl_context
        self.auth = auth or BasicAuth({})
        self.slots = threading.BoundedSemaphore(max_requests)
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's own thread: a slow or silent TLS client only ever
        # occupies this thread, for at most HANDSHAKE_TIMEOUT.
        if self.ssl_context is not None:
            try:
                request.settimeout(HANDSHAKE_TIMEOUT)
                request = self.ssl_context.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
                request.do_handshake()
            except (OSError, ValueError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
                self.shutdown_request(request)
                return
        super().process_request_thread(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is routine, not a traceback on stderr.
        log.debug("error serving %s", client_address[0], exc_info=True)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # Headers and body go out in two writes; with Nagle on, a small response waits for
    # the client's delayed ACK (~40 ms) before its body leaves.
    disable_nagle_algorithm = True
    server_version = f"idp-exporter/{__version__}"
    sys_version = ""

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _route(self, head: bool) -> None:
        path = urlsplit(self.path).path
        # Kubelet probes carry no credentials, and these two reveal nothing.
        if path == "/healthz":
            self._send(200, b"OK\n", "text/plain; charset=utf-8", head)
            return
        if path == "/readyz":
            if self.server.runtime.is_ready():
                self._send(200, b"ready\n", "text/plain; charset=utf-8", head)
            else:
                self._send(503, b"not ready\n", "text/plain; charset=utf-8", head)
            return
        if path not in ("/", "/metrics"):
            self._send(404, b"not found\n", "text/plain; charset=utf-8", head)
            return
        # Credentials first: a client without the password must never hold a slot.
        verdict = self.server.auth.check(self.headers.get("Authorization"))
        if verdict is Verdict.DENIED:
            self._send(401, b"unauthorized\n", "text/plain; charset=utf-8", head, auth=True)
            return
        if verdict is Verdict.BUSY:
            self._send(503, b"too many logins in progress\n", "text/plain", head, retry=True)
            return
        if not self.server.slots.acquire(blocking=False):
            self._send(503, b"too many concurrent requests\n", "text/plain", head, retry=True)
            return
        try:
            if path == "/metrics":
                self._metrics(head)
            else:
                page = LANDING.format(version=html.escape(__version__)).encode()
                self._send(200, page, "text/html; charset=utf-8", head)
        finally:
            self.server.slots.release()

    def _metrics(self, head: bool) -> None:
        exposition = self.server.runtime.exposition()
        openmetrics = wants_openmetrics(self.headers.get("Accept"))
        compressed = wants_gzip(self.headers.get("Accept-Encoding"))
        if openmetrics:
            body = exposition.openmetrics_gzip if compressed else exposition.openmetrics
        else:
            body = exposition.text_gzip if compressed else exposition.text
        content_type = OPENMETRICS_TYPE if openmetrics else TEXT_TYPE
        self._send(200, body, content_type, head, gzipped=compressed)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        head: bool,
        *,
        gzipped: bool = False,
        auth: bool = False,
        retry: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if self.path.startswith("/metrics"):
            self.send_header("Vary", "Accept, Accept-Encoding")
        if auth:
            self.send_header("WWW-Authenticate", 'Basic realm="idp-exporter", charset="UTF-8"')
        if retry:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if not head:
            self.wfile.write(body)
