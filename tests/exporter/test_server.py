"""HTTP endpoints: negotiation, gzip, auth, TLS, bounded concurrency, many scrapers."""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest

from devstack.servers import wait_until
from exporter.auth import BasicAuth
from exporter.server import wants_gzip, wants_openmetrics
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


def test_auth_cache_key_includes_the_hash() -> None:
    # CVE-2022-46146: a cached success must not survive a change of the stored hash.
    auth = BasicAuth({"u": HASH})
    header = _auth("u", "right")["Authorization"]
    assert auth.check(header)
    auth._users["u"] = bcrypt.hashpw(b"other", bcrypt.gensalt(4))
    assert not auth.check(header)


def test_unknown_user_costs_a_bcrypt_check() -> None:
    auth = BasicAuth({"u": bcrypt.hashpw(b"right", bcrypt.gensalt(10)).decode()})

    def cost(user: str, password: str) -> float:
        started = time.perf_counter()
        auth.check(_auth(user, password)["Authorization"])
        return time.perf_counter() - started

    known = min(cost("u", f"wrong{i}") for i in range(3))
    unknown = min(cost("ghost", f"wrong{i}") for i in range(3))
    # Same bcrypt cost either way (a fast "no such user" would be < 1% of it).
    assert unknown > known / 3


def test_overlong_password_is_just_a_failed_login() -> None:
    auth = BasicAuth({"u": HASH})
    assert not auth.check(_auth("u", "x" * 100)["Authorization"])
    assert not auth.check("Basic not-base64!")
    assert not auth.check("Bearer abc")


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
