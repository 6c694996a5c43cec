"""Bad input: exit 2 for bad flags or spec, 1 when Prometheus fails; a clear message that
names the URL and never a secret; nothing written."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner, Result

from devstack.servers import free_port, started
from rulegen.cli import main
from tests.report.conftest import SPEC, BackfilledPrometheus

SECRET = "s3cret-do-not-print"


def _report(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["report", *args], env=env)


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers every request 401, keeping the Authorization header it was sent."""

    seen: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        _Refusing.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"Unauthorized\n")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def refusing() -> Iterator[str]:
    _Refusing.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _nothing_written(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


def test_unreachable_prometheus_names_the_url_and_exits_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    out = tmp_path / "out"
    result = _report(str(SPEC), "--prometheus", url, "-o", str(out))
    print(result.output)
    assert result.exit_code == 1
    assert f"cannot reach Prometheus at {url}" in result.output
    assert "nothing written" in result.output
    assert _nothing_written(out)


def test_401_names_the_url_never_the_token(refusing: str, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(SECRET + "\n")
    out = tmp_path / "out"
    result = _report(
        str(SPEC), "--prometheus", refusing, "--bearer-token-file", str(token), "-o", str(out)
    )
    print(result.output)
    assert result.exit_code == 1
    assert f"Prometheus at {refusing} refused the request (HTTP 401)" in result.output
    assert SECRET not in result.output
    assert _Refusing.seen[0] == f"Bearer {SECRET}"  # sent, trimmed of the file's newline
    assert _nothing_written(out)


def test_basic_auth_password_from_the_environment(refusing: str, tmp_path: Path) -> None:
    result = _report(
        str(SPEC),
        *("--prometheus", refusing, "--basic-auth-user", "reporter", "-o", str(tmp_path)),
        env={"IDP_REPORT_PASSWORD": SECRET},
    )
    assert result.exit_code == 1
    assert SECRET not in result.output
    sent = base64.b64encode(f"reporter:{SECRET}".encode()).decode()
    assert _Refusing.seen[0] == f"Basic {sent}"


def test_a_query_error_names_the_url_and_the_query(blocks: Path, tmp_path: Path) -> None:
    # A real Prometheus that may load only a few samples per query: the period queries fail.
    server = started(BackfilledPrometheus(blocks, ("--query.max-samples=100",)))
    try:
        out = tmp_path / "out"
        result = _report(
            str(SPEC), "--prometheus", server.url, "--end", "1767225600", "-o", str(out)
        )
    finally:
        server.destroy()
    print(result.output)
    assert result.exit_code == 1
    assert f"Prometheus at {server.url} rejected a query: " in result.output
    assert "too many samples" in result.output
    assert "query: sum(" in result.output
    assert _nothing_written(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--end", "yesterday"), "RFC 3339"),
        (("--end", "2026-01-01T00:00:00"), "need a zone"),
        (("--period", "30 days"), "invalid duration '30 days'"),
        (("--basic-auth-password-file", "pw"), "needs --basic-auth-user"),
        (("--basic-auth-user", "u", "--bearer-token-file", "t"), "not both"),
        (("--basic-auth-user", "u"), "needs --basic-auth-password-file or IDP_REPORT_PASSWORD"),
        (("--bearer-token-file", "/nonexistent/token"), "cannot read the bearer token file"),
    ],
)
def test_bad_flags_exit_2(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = _report(str(SPEC), "--prometheus", url, "-o", str(tmp_path / "out"), *args)
    print(result.output)
    assert result.exit_code == 2
    assert message in result.output
    assert _nothing_written(tmp_path / "out")


def test_credentials_in_the_url_are_refused_and_not_echoed(tmp_path: Path) -> None:
    url = f"http://reporter:{SECRET}@127.0.0.1:{free_port()}"
    result = _report(str(SPEC), "--prometheus", url, "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "must not carry credentials" in result.output
    assert SECRET not in result.output


def test_missing_prometheus_flag_exits_2() -> None:
    result = _report(str(SPEC))
    assert result.exit_code == 2
    assert "--prometheus" in result.output


def test_an_invalid_spec_exits_2_with_located_errors(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC.read_text().replace("objective: 99.5", "objective: 120"))
    result = _report(str(spec), "--prometheus", f"http://127.0.0.1:{free_port()}")
    print(result.output)
    assert result.exit_code == 2
    assert f"{spec}:" in result.output and "objective" in result.output
