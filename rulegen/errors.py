"""Errors the generator reports to users; cli.py is the only place that maps them to exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a spec, located as precisely as the YAML allows (1-based line/column)."""

    line: int
    col: int
    path: str
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}:{self.col}: {self.path or '$'}: {self.message}"


class SpecError(Exception):
    """The spec is invalid; carries every issue found, sorted by position."""

    def __init__(self, file: str, issues: list[Issue]) -> None:
        self.file = file
        self.issues = tuple(sorted(set(issues)))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [issue.format(self.file) for issue in self.issues]


class CheckError(Exception):
    """promtool rejected the bundle, or a generated file is stale (exit 1)."""


class UsageError(Exception):
    """The command cannot run as asked: missing directory, missing promtool (exit 2)."""
