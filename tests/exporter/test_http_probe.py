"""The HTTP probe against real local HTTP(S) servers, including one that never answers."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from devstack.servers import free_port, wait_until
from exporter.config import HttpSourceConfig
from exporter.runtime import WATCHDOG_SLACK
from exporter.sources.base import Snapshot, SourceError
from exporter.sources.http_probe import HttpProbe
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


# A TLS record header announcing a 16 KiB handshake record, whose bytes then trickle.
TLS_RECORD = bytes([0x16, 0x03, 0x03, 0x40, 0x00])


@dataclass
class _Trickler:
    """A target that answers 200 at once until `trickle` is set, then sends its answer
    one byte every 0.5 s: HTTP header bytes, or in `tls` mode the start of a TLS record
    announcing 16 KiB."""

    tls: bool = False
    trickle: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    sock: socket.socket = field(default_factory=socket.socket)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}/health"

    def start(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if not self.tls:
                conn.recv(65536)
                if not self.trickle.is_set():
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    return
            # 40 bytes, 20 s: far past any deadline, yet a regression fails, not hangs.
            head = TLS_RECORD if self.tls else b"HTTP/1.1 200 OK\r\nX: "
            answer = head.ljust(40, b"a")
            for byte in answer:
                if self.stop.wait(0.5):  # the attack's pace, not a synchronisation
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the prober hung up


@pytest.fixture(params=[False, True], ids=["headers", "tls-handshake"])
def trickler(request: pytest.FixtureRequest) -> Iterator[_Trickler]:
    target = _Trickler(tls=request.param)
    target.start()
    yield target
    target.stop.set()
    target.sock.close()


def _prober(url: str, timeout: str = "1s") -> HttpProbe:
    cfg = {"name": "portal", "type": "http", "url": url, "interval": "5s", "timeout": timeout}
    return HttpProbe(HttpSourceConfig.model_validate(cfg))


def _values(snapshot: Snapshot) -> dict[tuple[str, tuple[str, ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.values()))): s.value
        for metric in snapshot
        for s in metric.samples
        if not s.name.endswith("_bucket")
    }


def test_trickling_target_fails_within_the_timeout(trickler: _Trickler) -> None:
    # The attack: one header byte every 0.5 s kept each read under httpx's read
    # timeout, so the probe never ended and its last success was re-published (22 s of
    # outage showed idp_probe_success 1). The same at the TLS handshake.
    trickler.trickle.set()
    probe = _prober(trickler.url)
    try:
        started = time.monotonic()
        with pytest.raises(SourceError) as failed:
            probe.refresh()
        waited = time.monotonic() - started
        values = _values(probe.down_snapshot())
    finally:
        probe.close()
    assert failed.value.reason == "timeout"
    assert "no complete answer within 1s" in str(failed.value)
    # It ended on its own, before the runtime's watchdog would have had to abandon it.
    assert waited < probe.timeout + WATCHDOG_SLACK
    assert values[("idp_probe_success", ("portal",))] == 0
    assert values[("idp_probes_total", ("failure", "portal"))] == 1
    assert values[("idp_probe_duration_seconds_count", ("portal",))] == 1  # as the time waited


def test_outage_by_trickle_shows_as_probe_failure() -> None:
    target = _Trickler()
    target.start()
    exp = start_exporter(
        f"sources:\n  - {{name: portal, type: http, url: '{target.url}', interval: 1s,"
        " timeout: 1s}\n"
    )
    try:
        wait_until(lambda: exp.value("idp_probe_success", target="portal") == 1, 10, "up")
        target.trickle.set()
        # Within one interval for the next probe to start, plus its timeout (and slack).
        wait_until(lambda: exp.value("idp_probe_success", target="portal") == 0, 5, "probe 0")
        series = exp.scrape()
        reason = frozenset({("source", "portal"), ("reason", "timeout")})
        assert series[("idp_exporter_source_errors_total", reason)] >= 1
    finally:
        target.stop.set()
        target.sock.close()
        exp.stop()


class _Gated(BaseHTTPRequestHandler):
    """Answers 200 once `gate` is set; `asked` tells that a request is waiting."""

    gate = threading.Event()
    asked = threading.Event()

    def do_GET(self) -> None:
        self.asked.set()
        self.gate.wait(10)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_abandoned_probe_is_a_failure_never_a_republished_success() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gated)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    probe = _prober(f"http://127.0.0.1:{server.server_address[1]}/", timeout="5s")
    _Gated.gate.set()
    worker = ThreadPoolExecutor(1)
    try:
        probe.refresh()  # a success first: the value that must not come back
        _Gated.gate.clear()
        _Gated.asked.clear()
        pending = worker.submit(probe.refresh)
        wait_until(_Gated.asked.is_set, 5, "the probe's request to arrive")
        # What the runtime does when its watchdog gives up on a refresh:
        abandoned = _values(probe.down_snapshot())
        _Gated.gate.set()  # the answer arrives after all, and is a success
        with pytest.raises(SourceError) as late:
            pending.result(10)
        after = _values(probe.down_snapshot())
    finally:
        _Gated.gate.set()
        worker.shutdown()
        probe.close()
        server.shutdown()
        server.server_close()
    assert abandoned[("idp_probe_success", ("portal",))] == 0
    assert abandoned[("idp_probes_total", ("failure", "portal"))] == 1
    assert late.value.reason == "timeout"
    assert after == abandoned  # counted once, and the late success changed nothing


def test_redirect_to_a_broken_url_is_a_counted_failure() -> None:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://[" + "a" * 60_000)  # 60 KB, unparsable
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    probe = _prober(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        with pytest.raises(SourceError) as failed:
            probe.refresh()
        values = _values(probe.down_snapshot())
    finally:
        probe.close()
        server.shutdown()
        server.server_close()
    assert failed.value.reason == "other"
    assert values[("idp_probe_success", ("portal",))] == 0
    assert values[("idp_probes_total", ("failure", "portal"))] == 1
