"""idp-rulegen command line; the only place that turns errors into exit codes (0/1/2)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from rulegen import __version__, bundle, explain, model, promtool, writer
from rulegen.errors import CheckError, SpecError, UsageError

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="idp-rulegen")
def main() -> None:
    """Turn an SLO spec into Prometheus rules, promtool tests and dashboards."""


_SPEC = click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))


@main.command()
@_SPEC
def validate(spec: Path) -> None:
    """Check SPEC; exit 0 if valid, 2 with every located error if not."""
    m = _guard(lambda: model.load(str(spec)))
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
    files = _guard(lambda: bundle.render(model.load(str(spec))))
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
    """promtool check rules + test rules on DIRECTORY/alerts."""

    def run() -> None:
        if not directory.is_dir():
            raise UsageError(f"{directory} is not a directory")
        result = promtool.check_bundle(directory)
        if not result.ok:
            raise CheckError(result.output.rstrip())
        click.echo(result.output.rstrip())

    _guard(run)


@main.command(name="explain")
@_SPEC
def explain_cmd(spec: Path) -> None:
    """Print, per SLO and tier, the windows, thresholds, budget spent and detection times."""
    m = _guard(lambda: model.load(str(spec)))
    click.echo(explain.explain(m), nl=False)
