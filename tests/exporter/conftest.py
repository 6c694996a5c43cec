"""Exporter test fixtures. IDP_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.

(An environment variable rather than a pytest option: options from a non-root conftest
are not registered when pytest runs from the repo root.)"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def golden() -> Callable[[str, bytes], None]:
    """golden(name, data): compare bytes with tests/exporter/golden/<name>, or rewrite it."""
    update = os.environ.get("IDP_UPDATE_GOLDEN") == "1"

    def check(name: str, data: bytes) -> None:
        path = GOLDEN / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        assert path.exists(), f"{path} is missing; run with IDP_UPDATE_GOLDEN=1"
        expected = path.read_bytes()
        assert data == expected, f"output differs from {path} (IDP_UPDATE_GOLDEN=1 to accept)"

    return check


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server cert for 127.0.0.1 signed by it, and a client cert signed by it."""
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt")  # fmt: skip
    return {n: d / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}
