"""Safe YAML loading that keeps the line and column of every node.

PyYAML's safe_load still allows alias bombs, deep nesting and duplicate keys (the last
silently wins), and forgets positions. We compose the node graph ourselves, reject what
a spec never needs, and return plain data plus a position for every JSON path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from rulegen.errors import Issue, SpecError

# Room for ~60,000 SLOs; anything bigger is a mistake, not a spec (aliases are refused,
# so memory stays proportional to this).
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32

Path_ = tuple[str | int, ...]


def json_path(path: Path_) -> str:
    """`('slos', 1, 'sli')` -> `slos[1].sli`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class Document:
    """Plain data from YAML plus where each value (and each mapping key) was written."""

    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """The closest known position for `path`, walking up to its parents."""
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


class _Refused(yaml.YAMLError):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(Composer, yaml.CSafeLoader):
    """A safe loader that refuses aliases, anchors and deep nesting while composing.

    libyaml scans and parses (3x faster than pure Python); PyYAML's own Composer, first
    in line, builds the nodes from libyaml's events, so compose_node sees every one.
    """

    def __init__(self, stream: str) -> None:
        yaml.CSafeLoader.__init__(self, stream)
        Composer.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _Refused(event.start_mark, "YAML aliases are not allowed in a spec")
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor:
            raise _Refused(event.start_mark, "YAML anchors are not allowed in a spec")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(loader: _Loader, node: Node, path: Path_, doc: Document, issues: list[Issue]) -> Any:
    doc.values[path] = _pos(node)
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                line, col = _pos(key_node)
                issues.append(Issue(line, col, json_path(path), "mapping keys must be strings"))
                continue
            line, col = _pos(key_node)
            if key in first_seen:
                issues.append(
                    Issue(
                        line,
                        col,
                        json_path((*path, key)),
                        f"duplicate key {key!r} (first at line {first_seen[key]})",
                    )
                )
                continue
            first_seen[key] = line
            doc.keys[(*path, key)] = (line, col)
            result[key] = _convert(loader, value_node, (*path, key), doc, issues)
        return result
    if isinstance(node, SequenceNode):
        return [
            _convert(loader, item, (*path, i), doc, issues) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node)


def _read(path: Path) -> str:
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(name, [Issue(1, 1, "", f"cannot read spec: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise SpecError(name, [Issue(1, 1, "", f"spec is larger than {MAX_BYTES} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(name, [Issue(1, 1, "", f"spec is not UTF-8: {exc.reason}")]) from None


def load(path: Path) -> Document:
    """Read and compose `path`; raise SpecError (located) for anything unsafe or malformed."""
    return loads(_read(path), str(path))


def load_all(path: Path) -> list[Document]:
    """Every document of a multi-document file (`---`), under the same rules as load()."""
    return loads_all(_read(path), str(path))


def _compose(text: str, name: str, *, single: bool) -> tuple[_Loader, list[Node]]:
    loader = _Loader(text)
    try:
        if single:
            root = loader.get_single_node()
            return loader, [] if root is None else [root]
        roots = []
        while loader.check_node():
            root = loader.get_node()
            if root is not None and root.tag != "tag:yaml.org,2002:null":
                roots.append(root)  # an empty document (`---` alone) holds nothing
        return loader, roots
    except _Refused as exc:
        raise SpecError(
            name, [Issue(exc.mark.line + 1, exc.mark.column + 1, "", exc.message)]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "malformed YAML"
        raise SpecError(name, [Issue(line, col, "", f"malformed YAML: {message}")]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise SpecError(name, [Issue(1, 1, "", f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()


def _documents(text: str, name: str, *, single: bool) -> list[Document]:
    loader, roots = _compose(text, name, single=single)
    if not roots:
        raise SpecError(name, [Issue(1, 1, "", "spec is empty")])
    docs: list[Document] = []
    issues: list[Issue] = []
    for root in roots:
        doc = Document(data=None)
        try:
            doc.data = _convert(loader, root, (), doc, issues)
        except yaml.YAMLError as exc:  # e.g. an invalid timestamp scalar
            raise SpecError(name, [Issue(1, 1, "", f"malformed YAML: {exc}")]) from None
        docs.append(doc)
    if issues:
        raise SpecError(name, issues)
    return docs


def loads(text: str, name: str = "<spec>") -> Document:
    return _documents(text, name, single=True)[0]


def loads_all(text: str, name: str = "<spec>") -> list[Document]:
    """Positions stay those of the whole file, so each document's errors point into it."""
    return _documents(text, name, single=False)
