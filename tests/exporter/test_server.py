"""HTTP endpoints: negotiation, gzip, auth, TLS, bounded concurrency, many scrapers."""

from __future__ import annotations

import base64
import io
import itertools
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from devstack.servers import wait_until
from exporter import logs
from exporter.auth import CACHE_SIZE, CACHE_TTL, BasicAuth, Verdict
from exporter.runtime import Runtime
from exporter.server import MetricsServer, wants_gzip, wants_openmetrics
from tests.exporter.helpers import Exporter, FakePoller, parse, start_exporter

CFG = "sources: [{name: unused, type: http, url: 'http://127.0.0.1:1/'}]"
HASH = bcrypt.hashpw(b"right", bcrypt.gensalt(4)).decode()


@pytest.fixture
def exp() -> Iterator[Exporter]:
    poller = FakePoller("p", interval=60)  # one refresh, then the exposition stays put
    exporter = start_exporter(CFG, sources=[poller])
    wait_until(
        lambda: b'idp_exporter_source_up{source="p"} 1.0' in exporter.runtime.exposition().text,
        5,
        "first refresh rendered",
    )
    yield exporter
    exporter.stop()


def test_text_openmetrics_and_gzip(exp: Exporter) -> None:
    plain = httpx.get(f"{exp.url}/metrics", headers={"Accept-Encoding": "identity"})
    assert plain.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "content-encoding" not in plain.headers
    assert "idp_exporter_build_info" in plain.text
    om = httpx.get(
        f"{exp.url}/metrics",
        headers={
            # what Prometheus 2.42 sends
            "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
            "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            "Accept-Encoding": "gzip",
        },
    )
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.headers["content-encoding"] == "gzip"
    assert om.text.endswith("# EOF\n")
    raw = httpx.get(f"{exp.url}/metrics", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip" and raw.text == plain.text  # decoded by httpx
    head = httpx.head(f"{exp.url}/metrics")
    assert head.status_code == 200 and head.content == b""


def test_other_endpoints(exp: Exporter) -> None:
    assert httpx.get(f"{exp.url}/healthz").text == "OK\n"
    assert httpx.get(f"{exp.url}/readyz").status_code == 200
    landing = httpx.get(f"{exp.url}/")
    assert landing.status_code == 200 and 'href="metrics"' in landing.text
    assert httpx.get(f"{exp.url}/nope").status_code == 404


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("text/plain", False),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text;q=0.3,text/plain;q=0.9", False),
        ("application/openmetrics-text;q=0", False),
        ("*/*", False),
    ],
)
def test_accept_negotiation(accept: str | None, openmetrics: bool) -> None:
    assert wants_openmetrics(accept) is openmetrics


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("gzip", True),
        ("deflate, gzip;q=1.0", True),
        ("gzip;q=0", False),
        ("br", False),
    ],
)
def test_gzip_negotiation(header: str | None, expected: bool) -> None:
    assert wants_gzip(header) is expected


def test_scrapes_beyond_the_bound_get_503(exp: Exporter) -> None:
    slots = exp.server.slots
    taken = 0
    while slots.acquire(blocking=False):  # occupy every slot, as slow scrapes would
        taken += 1
    try:
        resp = httpx.get(f"{exp.url}/metrics")
        assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
        assert httpx.get(f"{exp.url}/healthz").status_code == 200  # probes are not bounded
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == 40
    assert httpx.get(f"{exp.url}/metrics").status_code == 200


def test_fifty_concurrent_scrapers_get_no_errors() -> None:
    sources = [FakePoller(f"p{i}", interval=0.05, timeout=0.05) for i in range(4)]
    exp = start_exporter("web: {max_requests: 64}\n" + CFG, sources=sources)
    errors: list[str] = []
    counts = [0] * 50
    deadline = time.monotonic() + 30.0  # the soak length; sources churn throughout

    def scraper(i: int) -> None:
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                try:
                    r = client.get(
                        f"{exp.url}/metrics",
                        headers={
                            "Accept": "application/openmetrics-text" if i % 2 else "text/plain"
                        },
                    )
                    if r.status_code != 200 or "idp_exporter_build_info" not in r.text:
                        errors.append(f"{r.status_code}")
                    counts[i] += 1
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

    threads = [threading.Thread(target=scraper, args=(i,)) for i in range(50)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        exp.stop()
    assert errors == []
    assert min(counts) > 0


def _auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_auth() -> None:
    exp = start_exporter(f"web: {{basic_auth_users: {{prometheus: '{HASH}'}}}}\n" + CFG)
    try:
        assert httpx.get(f"{exp.url}/metrics").status_code == 401
        assert "Basic" in httpx.get(f"{exp.url}/metrics").headers["www-authenticate"]
        assert (
            httpx.get(f"{exp.url}/metrics", headers=_auth("prometheus", "wrong")).status_code == 401
        )
        assert httpx.get(f"{exp.url}/metrics", headers=_auth("nobody", "right")).status_code == 401
        assert httpx.get(f"{exp.url}/", headers=_auth("prometheus", "right")).status_code == 200
        ok = httpx.get(f"{exp.url}/metrics", headers=_auth("prometheus", "right"))
        assert ok.status_code == 200 and "idp_exporter_build_info" in ok.text
        assert httpx.get(f"{exp.url}/healthz").status_code == 200  # kubelet probes
    finally:
        exp.stop()


def test_credentials_are_checked_before_a_slot_is_taken() -> None:
    exp = start_exporter(f"web: {{basic_auth_users: {{prometheus: '{HASH}'}}}}\n" + CFG)
    taken = 0
    while exp.server.slots.acquire(blocking=False):
        taken += 1
    try:
        wrong = httpx.get(f"{exp.url}/metrics", headers=_auth("prometheus", "wrong"))
        assert wrong.status_code == 401  # answered without a slot
        right = httpx.get(f"{exp.url}/metrics", headers=_auth("prometheus", "right"))
        assert right.status_code == 503 and right.headers["retry-after"] == "1"
    finally:
        for _ in range(taken):
            exp.server.slots.release()
        exp.stop()


def test_auth_cache_key_includes_the_hash() -> None:
    # CVE-2022-46146: a cached success must not survive a change of the stored hash.
    auth = BasicAuth({"u": HASH})
    header = _auth("u", "right")["Authorization"]
    assert auth.check(header) is Verdict.ALLOWED
    auth._users["u"] = bcrypt.hashpw(b"other", bcrypt.gensalt(4))
    assert auth.check(header) is Verdict.DENIED


def _all_workers_taken(auth: BasicAuth) -> list[None]:
    """Occupy every bcrypt worker, as a flood of slow logins would; returns the tokens."""
    taken = []
    while auth._workers.acquire(blocking=False):
        taken.append(None)
    return taken


def test_only_successes_are_cached_and_only_for_a_while() -> None:
    now = [0.0]
    auth = BasicAuth({"u": HASH}, wait=0.01, clock=lambda: now[0])
    right = _auth("u", "right")["Authorization"]
    assert auth.check(right) is Verdict.ALLOWED
    # Far more distinct wrong passwords than the cache holds: none is remembered, so
    # none can push the right one out.
    for i in range(CACHE_SIZE * 2):
        assert auth.check(_auth("u", f"guess-{i}")["Authorization"]) is Verdict.DENIED
    taken = _all_workers_taken(auth)
    try:
        assert auth.check(right) is Verdict.ALLOWED  # from the cache: no bcrypt worker
        assert auth.check(_auth("u", "guess-0")["Authorization"]) is Verdict.BUSY
        now[0] += CACHE_TTL
        assert auth.check(right) is Verdict.BUSY  # expired: needs bcrypt again
    finally:
        for _ in taken:
            auth._workers.release()
    assert auth.check(right) is Verdict.ALLOWED


def test_bcrypt_runs_in_a_bounded_pool() -> None:
    auth = BasicAuth({"u": HASH}, workers=2, wait=0.01)
    assert len(_all_workers_taken(auth)) == 2
    auth._workers.release()  # one verification in progress elsewhere; one worker free
    assert auth.check(_auth("u", "right")["Authorization"]) is Verdict.ALLOWED
    auth._workers.release()


def test_unknown_users_cost_what_the_dearest_known_user_costs() -> None:
    dear = bcrypt.hashpw(b"right", bcrypt.gensalt(10)).decode()
    auth = BasicAuth({"cheap": HASH, "dear": dear})
    assert auth._dummy.startswith(b"$2b$10$")  # the dearest configured cost

    def cost(user: str, password: str) -> float:
        started = time.perf_counter()
        assert auth.check(_auth(user, password)["Authorization"]) is Verdict.DENIED
        return time.perf_counter() - started

    known = min(cost("dear", f"wrong{i}") for i in range(3))
    unknown = min(cost("ghost", f"wrong{i}") for i in range(3))
    # A cost-4 check (the cheap user's) would be 1/64 of it; a fast "no such user" less.
    assert unknown > known / 3
    # An unknown user waits for a bcrypt worker like anyone else.
    taken = _all_workers_taken(auth)
    try:
        auth._wait = 0.01
        assert auth.check(_auth("ghost", "x")["Authorization"]) is Verdict.BUSY
    finally:
        for _ in taken:
            auth._workers.release()


def test_overlong_password_is_just_a_failed_login() -> None:
    auth = BasicAuth({"u": HASH})
    assert auth.check(_auth("u", "x" * 100)["Authorization"]) is Verdict.DENIED
    assert auth.check("Basic not-base64!") is Verdict.DENIED
    assert auth.check("Bearer abc") is Verdict.DENIED


def test_wrong_password_flood_does_not_take_metrics_down() -> None:
    # 40 clients guessing passwords as fast as they are answered (the attack:
    # before, 36 of 36 scrapes answered 503) while Prometheus keeps scraping.
    dear = bcrypt.hashpw(b"right", bcrypt.gensalt(8)).decode()
    exp = start_exporter(f"web: {{basic_auth_users: {{prometheus: '{dear}'}}}}\n" + CFG)
    url = f"{exp.url}/metrics"
    stop = threading.Event()
    lock = threading.Lock()
    guesses: Counter[int] = Counter()

    def attacker(i: int) -> None:
        with httpx.Client(timeout=30) as client:
            for k in itertools.count():
                if stop.is_set():
                    return
                status = client.get(url, headers=_auth("prometheus", f"guess-{i}-{k}")).status_code
                with lock:
                    guesses[status] += 1

    attackers = [threading.Thread(target=attacker, args=(i,)) for i in range(40)]
    statuses: Counter[int] = Counter()
    try:
        with httpx.Client(timeout=10) as scraper:
            right = _auth("prometheus", "right")
            assert scraper.get(url, headers=right).status_code == 200  # the last scrape
            for t in attackers:
                t.start()
            wait_until(lambda: sum(guesses.values()) >= 80, 30, "two rounds of guesses")
            for _ in range(30):
                statuses[scraper.get(url, headers=right).status_code] += 1
    finally:
        stop.set()
        for t in attackers:
            t.join()
        exp.stop()
    assert statuses == {200: 30}, statuses
    assert guesses[200] == 0 and guesses[401] >= 80, guesses


def _tls_config(files: dict[str, Path], client_ca: bool = False) -> str:
    ca = f", client_ca_file: {files['ca.crt']}" if client_ca else ""
    return (
        f"web: {{tls: {{cert_file: {files['server.crt']}, key_file: {files['server.key']}{ca}}}}}\n"
        + CFG
    )


def test_silent_tls_client_does_not_stall_scrapes(tls_files: dict[str, Path]) -> None:
    exp = start_exporter(_tls_config(tls_files))
    silent = [socket.create_connection(("127.0.0.1", exp.server.port)) for _ in range(5)]
    try:
        ctx = ssl.create_default_context(cafile=str(tls_files["ca.crt"]))
        with httpx.Client(verify=ctx) as client:
            for _ in range(5):
                started = time.monotonic()
                assert client.get(f"{exp.url}/metrics").status_code == 200
                assert time.monotonic() - started < 1.0
        # plain HTTP to a TLS port is refused without hurting anything
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{exp.server.port}/metrics", timeout=2)
    finally:
        for s in silent:
            s.close()
        exp.stop()


def test_client_certificate_required_with_client_ca(tls_files: dict[str, Path]) -> None:
    exp = start_exporter(_tls_config(tls_files, client_ca=True))
    try:
        anonymous = ssl.create_default_context(cafile=str(tls_files["ca.crt"]))
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{exp.url}/metrics", verify=anonymous, timeout=3)
        with_cert = ssl.create_default_context(cafile=str(tls_files["ca.crt"]))
        with_cert.load_cert_chain(tls_files["client.crt"], tls_files["client.key"])
        resp = httpx.get(f"{exp.url}/metrics", verify=with_cert, timeout=3)
        assert resp.status_code == 200 and parse(resp.text)
    finally:
        exp.stop()


def test_huge_request_line_is_logged_capped_and_scrapes_go_on(exp: Exporter) -> None:
    # At debug level every request line is logged; a 65 KB one once froze the process.
    stream = io.StringIO()
    logs.setup("debug", "logfmt", stream)
    try:
        with socket.create_connection(("127.0.0.1", exp.server.port), timeout=5) as sock:
            sock.sendall(b"GET /" + b"x" * 65_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 404")
        assert httpx.get(f"{exp.url}/metrics").status_code == 200
    finally:
        logging.getLogger().handlers.clear()
    logged = [line for line in stream.getvalue().splitlines() if "GET /xxx" in line]
    assert len(logged) == 1
    assert len(logged[0]) < logs.MAX_MESSAGE_CHARS + 200
    assert "more characters]" in logged[0]


def test_a_burst_of_connections_waits_in_the_backlog_not_in_syn_retries() -> None:
    # 200 clients connecting per scrape overflowed a 128-connection accept queue: the
    # kernel dropped their SYNs and 0.06 % of scrapes timed out. 300 connections that
    # arrive before any is accepted must all be queued, then all answered.
    runtime = Runtime([FakePoller("p", interval=60)])
    server = MetricsServer(("127.0.0.1", 0), runtime)
    clients: list[socket.socket] = []
    try:
        for _ in range(300):  # nothing accepts yet: each waits in the listen backlog
            clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        server.serve_in_thread()
        try:
            for sock in clients:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            answers = [sock.recv(12) for sock in clients]
        finally:
            server.shutdown()  # only once serving: it waits for serve_forever to end
    finally:
        for sock in clients:
            sock.close()
        server.server_close()
    assert answers == [b"HTTP/1.1 200"] * 300
