"""The HTTP probe against real local HTTP(S) servers, including one that never answers."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from devstack.servers import free_port, wait_until
from tests.exporter.helpers import Exporter, start_exporter


class _Target(BaseHTTPRequestHandler):
    routes = {  # noqa: RUF012 - fixed test data
        "/ok": (200, b"status: healthy"),
        "/degraded": (200, b"status: degraded"),
        "/down": (503, b"starting"),
        "/created": (201, b""),
    }

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hung() -> Iterator[str]:
    """A listener that accepts connections and never sends a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/health"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def _probe(name: str, url: str, extra: str = "") -> str:
    return f"""  - name: {name}
    type: http
    url: "{url}"
    interval: 300ms
    timeout: 250ms
{extra}"""


def _wait_probed(exp: Exporter, name: str) -> None:
    wait_until(
        lambda: (
            sum(
                exp.value("idp_probes_total", target=name, result=r) or 0
                for r in ("success", "failure")
            )
            >= 2
        ),
        10,
        f"{name} probed twice",
    )


def test_answers_decide_success(target: str) -> None:
    sources = [
        _probe("ok", f"{target}/ok"),
        _probe("regex-ok", f"{target}/ok", "    body_regex: 'status: (healthy|ok)'\n"),
        _probe("regex-bad", f"{target}/degraded", "    body_regex: 'status: (healthy|ok)'\n"),
        _probe("down", f"{target}/down"),
        _probe("created", f"{target}/created", "    expected_status: [200]\n"),
        _probe("created-ok", f"{target}/created", "    expected_status: [201, 204]\n"),
        _probe("refused", f"http://127.0.0.1:{free_port()}/"),
    ]
    exp = start_exporter("sources:\n" + "".join(sources))
    try:
        for name in ("ok", "regex-ok", "regex-bad", "down", "created", "created-ok", "refused"):
            _wait_probed(exp, name)
        series = exp.scrape()

        def v(name: str, **labels: str) -> float | None:
            return series.get((name, frozenset(labels.items())))

        for name in ("ok", "regex-ok", "created-ok"):
            assert v("idp_probe_success", target=name) == 1, name
            assert v("idp_probes_total", target=name, result="failure") == 0, name
            assert v("idp_exporter_source_up", source=name) == 1, name
        for name in ("regex-bad", "down", "created"):
            # a wrong answer is data; the source itself worked
            assert v("idp_probe_success", target=name) == 0, name
            assert v("idp_probes_total", target=name, result="success") == 0, name
            assert v("idp_exporter_source_up", source=name) == 1, name
        assert v("idp_probe_success", target="refused") == 0
        assert v("idp_exporter_source_up", source="refused") == 0
        assert (
            v("idp_exporter_source_errors_total", source="refused", reason="connection") or 0
        ) >= 1
        count = v("idp_probe_duration_seconds_count", target="ok")
        assert count is not None and count == v("idp_probes_total", target="ok", result="success")
        assert v("idp_probe_duration_seconds_count", target="refused") == 0  # nothing to time
    finally:
        exp.stop()


def test_hung_target_is_a_counted_timeout_and_metrics_answer_at_once(hung: str) -> None:
    exp = start_exporter("sources:\n" + _probe("hung", hung))
    try:
        wait_until(
            lambda: (
                (
                    exp.value("idp_exporter_source_errors_total", source="hung", reason="timeout")
                    or 0
                )
                >= 2
            ),
            10,
            "two timeouts",
        )
        series = exp.scrape()
        assert series[("idp_probe_success", frozenset({("target", "hung")}))] == 0
        failures = series[
            ("idp_probes_total", frozenset({("target", "hung"), ("result", "failure")}))
        ]
        assert failures >= 2
        # Timeouts are observed as the time waited: the slowest answer there is.
        assert series[("idp_probe_duration_seconds_count", frozenset({("target", "hung")}))] >= 2
        # Scrapes never wait on the probe, even while one is in flight.
        with httpx.Client() as client:
            for _ in range(20):
                started = time.monotonic()
                client.get(f"{exp.url}/metrics").raise_for_status()
                assert time.monotonic() - started < 0.2
    finally:
        exp.stop()


def test_tls_is_verified_by_default(tls_files: dict[str, Path]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_files["server.crt"], tls_files["server.key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/ok"
    sources = [
        _probe("default", url),
        _probe("with-ca", url, f"    ca_file: {tls_files['ca.crt']}\n"),
        _probe("insecure", url, "    insecure_skip_verify: true\n"),
    ]
    exp = start_exporter("sources:\n" + "".join(sources))
    try:
        for name in ("default", "with-ca", "insecure"):
            _wait_probed(exp, name)
        assert exp.value("idp_probe_success", target="default") == 0  # unknown CA: refused
        assert exp.value("idp_probe_success", target="with-ca") == 1
        assert exp.value("idp_probe_success", target="insecure") == 1
    finally:
        exp.stop()
        server.shutdown()
        server.server_close()
