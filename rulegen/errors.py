"""Errors the generator reports to users; cli.py is the only place that maps them to exit codes."""

from __future__ import annotations

from common.issues import LocatedError


class SpecError(LocatedError):
    """The spec is invalid: every issue found, located in the spec file (exit 2)."""


class CheckError(Exception):
    """promtool rejected the bundle, or a generated file is stale (exit 1)."""


class UsageError(Exception):
    """The command cannot run as asked: missing directory, missing promtool (exit 2)."""
