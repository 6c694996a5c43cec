"""Real servers for tests and the demo: private PostgreSQL, Redis and Prometheus processes.

Each server runs on a free loopback port in its own temporary directory and can be
stopped and started again (fault tests need that). A server that cannot start raises
`ServerError` carrying the tail of its log, so the failing test says why; nothing here
ever skips a test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import httpx


class _Server(Protocol):
    def start(self) -> None: ...
    def destroy(self) -> None: ...


S = TypeVar("S", bound=_Server)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
READY_TIMEOUT = 20.0


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> None:
    """Poll `condition` until it is true; raise ServerError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise ServerError(f"timed out after {timeout:.0f}s waiting for {what}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def require_binary(path: str | Path) -> str:
    found = shutil.which(str(path))
    if not found:
        raise ServerError(f"{path} is not installed; run `make setup`")
    return found


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def started(server: S) -> S:
    """`server`, started; destroyed (temp dir included) if it cannot start."""
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


class PostgresServer:
    """A private PostgreSQL 15 cluster run as the `postgres` user (pg_ctl refuses root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="idp-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "pg.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ServerError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                f"log tail:\n{_tail(self.log)}"
            )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(int(READY_TIMEOUT)),
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Process:
    """A foreground server process with a log file and a readiness check."""

    ready_timeout = READY_TIMEOUT

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"idp-{name}-"))
        self.log = self.dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
            )
        try:
            wait_until(self._ready_or_dead, self.ready_timeout, f"{self.name} on port {self.port}")
        except ServerError as exc:
            self.stop()
            raise ServerError(f"{exc}\nlog tail:\n{_tail(self.log)}") from None
        if self.proc.poll() is not None:
            raise ServerError(
                f"{self.name} exited with {self.proc.returncode}\nlog tail:\n{_tail(self.log)}"
            )

    def _ready_or_dead(self) -> bool:
        assert self.proc is not None
        return self.proc.poll() is not None or self.is_ready()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer(Process):
    """A private redis-server that keeps nothing on disk."""

    def __init__(self) -> None:
        super().__init__("redis")
        self.binary = require_binary("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]


class PrometheusServer(Process):
    """A real Prometheus with the given config text and rule files, fresh TSDB; `flags`
    are added to its command line (a central one takes `--web.enable-remote-write-receiver`)."""

    def __init__(
        self,
        config: str,
        rule_files: dict[str, str] | None = None,
        flags: Sequence[str] = (),
    ) -> None:
        super().__init__("prometheus")
        self.binary = require_binary("prometheus")
        self.flags = list(flags)
        for name, text in (rule_files or {}).items():
            (self.dir / name).write_text(text)
        self.configure(config)

    def configure(self, config: str) -> None:
        """Replace the config text; it takes effect at the next start."""
        (self.dir / "prometheus.yml").write_text(config)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.dir / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            "--web.enable-lifecycle",
            *self.flags,
        ]

    def is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> list[dict[str, object]]:
        """Instant query; returns the result vector (raises on a PromQL error)."""
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = resp.json()
        if body.get("status") != "success":
            raise ServerError(f"query {expr!r} failed: {body}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of an instant query, or None when it returns nothing."""
        result = self.query(expr)
        if not result:
            return None
        sample = result[0]["value"]  # [unix time, "value"]
        assert isinstance(sample, list)
        return float(sample[1])

    def firing(self, alertname: str, **labels: str) -> bool:
        """Whether an alert `alertname` with (at least) `labels` is firing."""
        matchers = ",".join(
            [
                f'alertname="{alertname}"',
                'alertstate="firing"',
                *(f'{k}="{v}"' for k, v in labels.items()),
            ]
        )
        return self.value(f"count(ALERTS{{{matchers}}})") is not None
