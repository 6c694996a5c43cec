"""idp-rulegen command line; the only place that turns errors into exit codes (0/1/2)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from common import durations
from rulegen import (
    __version__,
    bundle,
    explain,
    importers,
    model,
    promtool,
    schema_check,
    spec,
    writer,
)
from rulegen.errors import CheckError, SpecError, UsageError
from rulegen.report import PrometheusClient, ReportError, Window, generate
from rulegen.report.auth import Auth
from rulegen.report.auth import resolve as resolve_auth
from rulegen.report.client import DEFAULT_TIMEOUT
from rulegen.report.queries import parse_end

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

T = TypeVar("T")


def _guard(action: Callable[[], T]) -> T:
    try:
        return action()
    except SpecError as exc:
        for line in exc.lines():
            click.echo(line, err=True)
        click.echo(f"{exc.file}: {len(exc.issues)} error(s); nothing written", err=True)
        sys.exit(EXIT_INVALID)
    except UsageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    except CheckError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_FAILED)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)


def _warn(m: model.Model) -> None:
    """Located advice on stderr; it never changes the exit code."""
    for issue in m.warnings:
        click.echo(issue.format(m.file), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="idp-rulegen")
def main() -> None:
    """Turn an SLO spec into Prometheus rules, promtool tests and dashboards."""


_SPEC = click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
_SPEC_PATH = click.argument(
    "spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path)
)


@main.command()
@_SPEC
def validate(spec: Path) -> None:
    """Check SPEC; exit 0 if valid, 2 with every located error if not."""
    m = _guard(lambda: model.load(str(spec)))
    _warn(m)
    # Rendering in memory runs the dashboard and metric lint; nothing is written.
    _guard(lambda: bundle.render(m))
    click.echo(
        f"{spec}: valid ({len(m.slos)} SLOs, {len(m.alerts)} alerts, {len(m.dashboards)} dashboards)"
    )


@main.command()
@_SPEC
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle root (default: SPEC's folder).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 with a diff if any generated file is stale or no longer generated.",
)
def render(spec: Path, out: Path | None, check: bool) -> None:
    """Write the bundle of SPEC: alerts/, dashboards/ and deploy/generated/."""
    root = out if out is not None else spec.parent
    m = _guard(lambda: model.load(str(spec)))
    _warn(m)
    files = _guard(lambda: bundle.render(m))
    if check:
        text = _guard(lambda: writer.diff(root, files))
        if text:
            click.echo(text, nl=False)
            for rel in _guard(lambda: writer.plan(root, files)).removed:
                click.echo(f"{root / rel}: no longer generated", err=True)
            click.echo(
                f"{root}: generated files are stale; run `idp-rulegen render {spec}`", err=True
            )
            sys.exit(EXIT_FAILED)
        click.echo(f"{root}: {len(files)} generated files are up to date", err=True)
        return
    done = _guard(lambda: writer.write(root, files))
    for rel in done.written:
        click.echo(f"wrote {root / rel}", err=True)
    for rel in done.removed:
        click.echo(f"removed {root / rel} (no longer generated)", err=True)
    if not done.written and not done.removed:
        click.echo(f"{root}: {len(files)} generated files already up to date", err=True)


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def check(directory: Path) -> None:
    """promtool check rules + test rules on DIRECTORY/alerts, and DIRECTORY/dashboards/*.json
    against Grafana's published dashboard schema."""

    def run() -> None:
        if not directory.is_dir():
            raise UsageError(f"{directory} is not a directory")
        # Both run whatever the other finds, so one run shows every problem; the quick
        # dashboard check first, so missing Node tooling is reported before promtool runs.
        dashboards = schema_check.check_bundle(directory)
        results = [promtool.check_bundle(directory), dashboards]
        output = "\n".join(r.output.rstrip() for r in results if r.output.strip())
        if not all(r.ok for r in results):
            raise CheckError(output)
        click.echo(output)

    _guard(run)


@main.command(name="explain")
@_SPEC
def explain_cmd(spec: Path) -> None:
    """Print, per SLO and tier, the windows, thresholds, budget spent and detection times."""
    m = _guard(lambda: model.load(str(spec)))
    click.echo(explain.explain(m), nl=False)


def _end_time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int:
    try:
        return parse_end(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _period(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else durations.parse_seconds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_FILE = click.Path(dir_okay=False, path_type=Path)


@main.command(name="report")
@_SPEC_PATH
@click.option("--prometheus", "url", required=True, help="Prometheus base URL (http or https).")
@click.option(
    "--period",
    callback=_period,
    help="Length of the period, e.g. 30d (default: the spec's window).",
)
@click.option(
    "--end", callback=_end_time, help="End of the period: RFC 3339 or Unix seconds (default: now)."
)
@click.option(
    "-o",
    "--output",
    "out",
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.html and report.md (default: .).",
)
@click.option(
    "--basic-auth-user",
    "user",
    help="Basic auth user; the password from --basic-auth-password-file or IDP_REPORT_PASSWORD.",
)
@click.option("--basic-auth-password-file", "password_file", type=_FILE)
@click.option(
    "--bearer-token-file",
    "token_file",
    type=_FILE,
    help="Bearer token file (or IDP_REPORT_BEARER_TOKEN).",
)
@click.option("--ca-file", type=_FILE, help="CA bundle that signs the server's certificate.")
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True, help="Seconds per query.")
def report_cmd(
    spec_path: Path,
    url: str,
    period: int | None,
    end: int,
    out: Path,
    user: str | None,
    password_file: Path | None,
    token_file: Path | None,
    ca_file: Path | None,
    timeout: float,
) -> None:
    """Write report.html and report.md for the period ending at --end (exit 1 if Prometheus fails)."""

    def setup() -> tuple[model.Model, int, Auth | None]:
        file, doc = spec.read(spec_path)
        m = model.build(file, doc, str(spec_path))
        auth = resolve_auth(url, user, password_file, token_file)
        return m, period or durations.parse_seconds(file.defaults.window), auth

    m, seconds, auth = _guard(setup)
    window = Window(end - seconds, end)
    try:
        with PrometheusClient(url, auth, str(ca_file) if ca_file else None, timeout) as client:
            written = _guard(lambda: generate(m, client, window, out))
    except ReportError as exc:
        click.echo(f"error: {exc}; nothing written", err=True)
        sys.exit(EXIT_FAILED)
    for path in written:
        click.echo(f"wrote {path}", err=True)


@main.command(name="import")
@click.argument("fmt", metavar="{sloth|openslo}", type=click.Choice(sorted(importers.FORMATS)))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the spec here (default: stdout).",
)
@click.option("--name", help="metadata.name of the spec (default: the one service, or 'imported').")
def import_cmd(fmt: str, files: tuple[Path, ...], out: Path | None, name: str | None) -> None:
    """Convert Sloth or OpenSLO FILES into one idp-slo spec; report what cannot be expressed."""
    if name is not None and spec.k8s_name_problem(name):
        click.echo(f"error: --name {name!r}: {spec.k8s_name_problem(name)}", err=True)
        sys.exit(EXIT_INVALID)
    result = importers.run(fmt, files, name)
    for note in result.notes:
        click.echo(note.format(), err=True)
    if result.text is None:
        click.echo(
            f"nothing could be imported from {len(files)} file(s); nothing written", err=True
        )
        sys.exit(EXIT_INVALID)
    if out is None:
        click.echo(result.text, nl=False)
        return
    _guard(lambda: writer.write(out.parent, {out.name: result.text or ""}))
    click.echo(f"wrote {out} ({len(result.notes)} note(s))", err=True)
