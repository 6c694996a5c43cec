"""Input files as located documents, and the notes an import writes about them.

Every note names the input file, line and column (`FILE:LINE:COL: path: message`), so a
user can find what was dropped or refused in the file they wrote, not in the output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import yamlsafe
from common.issues import Issue, LocatedError, json_path
from common.issues import JsonPath as Path_
from common.yamlsafe import Document
from rulegen import spec

_DURATION = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, order=True)
class Note:
    file: str
    issue: Issue

    def format(self) -> str:
        return self.issue.format(self.file)


@dataclass
class Located:
    """One input document: where its values were written; notes about it go to `notes`."""

    file: str
    doc: Document
    notes: list[Note]

    def position(self, path: Path_) -> tuple[int, int]:
        return self.doc.position(path)

    def note(self, path: Path_, message: str) -> None:
        line, col = self.doc.position(path)
        self.notes.append(Note(self.file, Issue(line, col, json_path(path), message)))

    def get(self, path: Path_) -> Any:
        """The value at `path`, or None where any part of it is missing."""
        value: Any = self.doc.data
        for part in path:
            if isinstance(part, int):
                value = value[part] if isinstance(value, list) and part < len(value) else None
            else:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                return None
        return value

    def text(self, path: Path_, what: str) -> str | None:
        """A non-empty string at `path`; a note (and None) when it is something else."""
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.note(path, f"{what} must be a non-empty string")
            return None
        return value.strip()

    def strings(self, path: Path_, what: str) -> dict[str, str]:
        """A mapping of strings (labels, annotations); other entries are noted and left out."""
        value = self.get(path)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.note(path, f"{what} must be a mapping; ignored")
            return {}
        out = {}
        for key, item in value.items():
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                out[key] = str(item)
            else:
                self.note((*path, key), f"{what} {key!r} is not a string; ignored")
        return out


@dataclass(frozen=True)
class Source:
    file: str
    docs: tuple[Document, ...]


def load(paths: Sequence[Path], notes: list[Note]) -> list[Source]:
    """Every readable file, one or more documents each; unreadable ones become notes."""
    out = []
    for path in paths:
        try:
            out.append(
                Source(
                    str(path),
                    tuple(
                        yamlsafe.load_all(
                            path, noun="file", max_bytes=spec.MAX_BYTES, max_depth=spec.MAX_DEPTH
                        )
                    ),
                )
            )
        except LocatedError as exc:
            notes.extend(Note(exc.file, issue) for issue in exc.issues)
    return out


def duration(text: str) -> int | None:
    """Seconds of a shorthand such as `5m`, `1h`, `4w`; None for what has no fixed length
    (months, quarters, years) or is malformed."""
    m = _DURATION.match(text)
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else None
