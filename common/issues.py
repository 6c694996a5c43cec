"""Problems in an input file, located as `FILE:LINE:COL: path: message`, all reported at once.

An `Issue` is one problem; a `LocatedError` carries every issue of one file and is what
both CLIs turn into exit code 2. `validation_issues` maps a pydantic ValidationError onto
the YAML document it came from, so schema errors point at the line that caused them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError
from pydantic_core import ErrorDetails

if TYPE_CHECKING:
    from common.yamlsafe import Document

# Where a value sits in a document: mapping keys and sequence indices, outermost first.
JsonPath = tuple[str | int, ...]


def json_path(path: JsonPath) -> str:
    """`('slos', 1, 'sli')` -> `slos[1].sli`; the root is the empty string."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(frozen=True, order=True)
class Issue:
    """One problem, located as precisely as the YAML allows (1-based line and column)."""

    line: int
    col: int
    path: str
    message: str

    def format(self, file: str) -> str:
        return f"{file}:{self.line}:{self.col}: {self.path or '$'}: {self.message}"


class LocatedError(Exception):
    """The input is invalid; carries every issue found, deduplicated and sorted by position."""

    def __init__(self, file: str, issues: Iterable[Issue]) -> None:
        self.file = file
        self.issues = tuple(sorted(set(issues)))
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [issue.format(self.file) for issue in self.issues]


def pydantic_message(error: ErrorDetails) -> str:
    """Pydantic's own message, without the prefix it puts on a validator's ValueError."""
    return str(error["msg"]).removeprefix("Value error, ")


def validation_issues(
    exc: ValidationError,
    doc: Document,
    message: Callable[[ErrorDetails], str] = pydantic_message,
    *,
    unknown_key_at: Literal["key", "value"] = "key",
) -> list[Issue]:
    """One Issue per pydantic error, at the place in `doc` the error is about.

    A missing key points at the mapping that lacks it; an unknown key at its key (or its
    value, as `unknown_key_at` says); anything else at the value, or the closest parent
    written in the file.
    """
    issues = []
    for error in exc.errors(include_input=False):
        path = document_path(error, doc.data)
        kind = error["type"]
        if kind == "missing":
            line, col = doc.position(path[:-1])
        else:
            line, col = doc.position(
                path, key=kind == "extra_forbidden" and unknown_key_at == "key"
            )
        issues.append(Issue(line, col, json_path(path), message(error)))
    return issues


def document_path(error: ErrorDetails, data: object) -> JsonPath:
    """The path of `error` in the document, without the names pydantic adds to its `loc`.

    Pydantic's loc also names discriminated-union tags (`sources.0.postgres.dsn`), union
    members (`threshold.str`) and dict-key checks (`tiers.x.[key]`). Walking the data
    tells them apart: only a missing or unknown key may be absent from the document.
    """
    loc = error["loc"]
    names_a_key = error["type"] in ("missing", "extra_forbidden")
    out: list[str | int] = []
    node: Any = data
    for i, part in enumerate(loc):
        if _has(node, part):
            node = node[part]
        elif isinstance(node, dict) and names_a_key and i == len(loc) - 1:
            node = None
        else:
            continue
        out.append(part)
    if error["type"] == "union_tag_invalid":
        # The tag's value is wrong: point at the key that holds it (`type`).
        out.append(str(error.get("ctx", {}).get("discriminator", "")).strip("'"))
    return tuple(out)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
