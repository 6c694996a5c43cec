"""`idp-exporter`: the only place that turns errors into exit codes.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the process cannot run
(e.g. the port is taken), 2 for bad input (flags, config, TLS files). Everything that
can be wrong with the input is checked before anything listens.
"""

from __future__ import annotations

import logging
import signal
import socket
import ssl
import sys
import threading
import time
from types import FrameType

import click

from exporter import __version__, config, logs
from exporter.auth import BasicAuth
from exporter.runtime import Runtime
from exporter.server import MetricsServer, tls_context
from exporter.sources import build

log = logging.getLogger("exporter")

SHUTDOWN_TIMEOUT = 5.0


class _Invalid(Exception):
    """Bad input found after parsing flags; reported on stderr, exit 2."""


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Path to the YAML config file.",
)
@click.option(
    "--web.listen-address",
    "listen_address",
    default=None,
    metavar="HOST:PORT",
    help="Address to listen on (overrides web.listen_address; default 0.0.0.0:9877).",
)
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(logs.LEVELS, case_sensitive=False),
    show_default=True,
)
@click.option(
    "--log-format",
    default="logfmt",
    type=click.Choice(["logfmt", "json"], case_sensitive=False),
    show_default=True,
)
@click.version_option(__version__, prog_name="idp-exporter")
def main(config_file: str, listen_address: str | None, log_level: str, log_format: str) -> None:
    """Expose platform SLIs (deployments, probes, PostgreSQL, Redis) for Prometheus."""
    logs.setup(log_level, log_format.lower())
    try:
        cfg = config.load(config_file)
        address = _address(listen_address, cfg)
        context = _tls(cfg)
    except config.ConfigError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        sys.exit(2)
    except (ValueError, _Invalid) as exc:
        click.echo(f"idp-exporter: {exc}", err=True)
        sys.exit(2)

    process_start = time.time()
    try:
        sources = [build(s, process_start=process_start) for s in cfg.sources]
    except Exception as exc:
        click.echo(f"idp-exporter: cannot set up sources: {logs.redact(str(exc))}", err=True)
        sys.exit(2)
    runtime = Runtime(sources)
    try:
        server = MetricsServer(
            address,
            runtime,
            ssl_context=context,
            auth=BasicAuth(cfg.web.basic_auth_users),
            max_requests=cfg.web.max_requests,
        )
    except socket.gaierror as exc:  # a well-formed name that does not resolve: bad input
        click.echo(f"idp-exporter: cannot resolve listen host {address[0]}: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"idp-exporter: cannot listen on {address[0]}:{address[1]}: {exc}", err=True)
        sys.exit(1)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    runtime.start()
    server.serve_in_thread()
    log.info(
        "listening on %s:%d (tls=%s, sources=%s, version=%s)",
        address[0],
        server.port,
        context is not None,
        ",".join(s.name for s in cfg.sources),
        __version__,
    )
    while not stop.wait(1.0):
        pass
    log.info("shutting down")
    server.shutdown()
    server.server_close()
    runtime.stop(SHUTDOWN_TIMEOUT)
    log.info("stopped")


def _address(flag: str | None, cfg: config.Config) -> tuple[str, int]:
    if flag is None:
        return config.parse_listen_address(cfg.web.listen_address)  # validated, located
    try:
        return config.parse_listen_address(flag)
    except ValueError as exc:
        raise _Invalid(f"--web.listen-address: {exc}") from None


def _tls(cfg: config.Config) -> ssl.SSLContext | None:
    if cfg.web.tls is None:
        return None
    try:
        return tls_context(cfg.web.tls)
    except (ssl.SSLError, OSError) as exc:
        raise _Invalid(f"web.tls: cannot load certificate, key or client CA: {exc}") from None


if __name__ == "__main__":
    main()
