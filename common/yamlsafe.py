"""Safe YAML loading that keeps the line and column of every node, in one parse.

PyYAML's safe_load still allows alias bombs, deep nesting and duplicate keys (the last
silently wins), and forgets positions. This loader composes the node graph itself and
refuses what neither a spec nor a config ever needs: anchors and aliases, nesting deeper
than `max_depth`, files larger than `max_bytes`, non-string and duplicate keys. It
returns plain data plus a position for every JSON path, or raises one LocatedError
listing every refusal it could find (a syntax error or excessive nesting stops it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from common.issues import Issue, JsonPath, LocatedError, json_path

DEFAULT_MAX_DEPTH = 32


@dataclass
class Document:
    """Plain data from YAML plus where each value (and each mapping key) was written."""

    data: Any
    values: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[JsonPath, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int]:
        """The closest known position for `path`, walking up to its parents."""
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


class _TooDeep(yaml.YAMLError):
    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _Loader(Composer, yaml.CSafeLoader):
    """A safe loader that refuses aliases, anchors and deep nesting while composing.

    libyaml scans and parses (3x faster than pure Python); PyYAML's own Composer, first
    in line, builds the nodes from libyaml's events, so compose_node sees every one. An
    anchor or alias is recorded and composing goes on without it (an alias becomes an
    empty scalar, so nothing is ever expanded), so every one of them is reported.
    """

    def __init__(self, stream: str, noun: str, max_depth: int) -> None:
        yaml.CSafeLoader.__init__(self, stream)
        Composer.__init__(self)
        self._noun = noun
        self._max_depth = max_depth
        self._depth = 0
        self.refused: list[Issue] = []

    def _refuse(self, mark: Any, message: str) -> None:
        self.refused.append(Issue(mark.line + 1, mark.column + 1, "", message))

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any = self.peek_event()
        if isinstance(event, AliasEvent):
            self.get_event()
            mark: Any = event.start_mark
            self._refuse(mark, f"YAML aliases are not allowed in a {self._noun}")
            return ScalarNode("tag:yaml.org,2002:null", "", mark, mark)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor:
            self._refuse(event.start_mark, f"YAML anchors are not allowed in a {self._noun}")
            event.anchor = None
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                raise _TooDeep(event.start_mark, f"nesting deeper than {self._max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _pos(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(
    loader: _Loader, node: Node, path: JsonPath, doc: Document, issues: list[Issue]
) -> Any:
    doc.values[path] = _pos(node)
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node) if isinstance(key_node, ScalarNode) else None
            line, col = _pos(key_node)
            if not isinstance(key, str):
                issues.append(Issue(line, col, json_path(path), "mapping keys must be strings"))
                continue
            if key in first_seen:
                where = json_path((*path, key))
                message = f"duplicate key {key!r} (first at line {first_seen[key]})"
                issues.append(Issue(line, col, where, message))
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


def _read(path: Path, noun: str, max_bytes: int) -> str:
    """The text of `path`; the size is checked before anything is parsed."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise LocatedError(name, [_at_start(f"cannot read {noun}: {exc.strerror}")]) from None
    if len(raw) > max_bytes:
        raise LocatedError(name, [_at_start(f"{noun} is larger than {max_bytes} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LocatedError(name, [_at_start(f"{noun} is not UTF-8: {exc.reason}")]) from None


def load(path: Path, *, noun: str, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Document:
    """Read and compose the file at `path`; raise LocatedError for anything unsafe or malformed.

    `noun` names the document in messages ("spec is empty").
    """
    return loads(_read(path, noun, max_bytes), str(path), noun=noun, max_depth=max_depth)


def load_all(
    path: Path, *, noun: str, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[Document]:
    """Every document of a multi-document file (`---`), under the same rules as load()."""
    text = _read(path, noun, max_bytes)
    return loads_all(text, str(path), noun=noun, max_depth=max_depth)


def loads(text: str, name: str, *, noun: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Document:
    """Compose `text` (read from the file `name`, used in errors) into a Document."""
    return _documents(text, name, noun, max_depth, single=True)[0]


def loads_all(
    text: str, name: str, *, noun: str, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[Document]:
    """Every document of `text`; positions stay those of the whole file."""
    return _documents(text, name, noun, max_depth, single=False)


def _compose(loader: _Loader, name: str, max_depth: int, *, single: bool) -> list[Node]:
    try:
        if single:
            root = loader.get_single_node()
            return [] if root is None else [root]
        roots = []
        while loader.check_node():
            root = loader.get_node()
            if root is not None and root.tag != "tag:yaml.org,2002:null":
                roots.append(root)  # an empty document (`---` alone) holds nothing
        return roots
    except _TooDeep as exc:
        stop = Issue(exc.mark.line + 1, exc.mark.column + 1, "", exc.message)
        raise LocatedError(name, [*loader.refused, stop]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "malformed YAML"
        message = f"malformed YAML: {message}"
        if "maximum nesting depth" in (exc.problem or ""):
            # libyaml's scanner looks ahead over flow brackets and stops at 1,000 levels
            # before the composer reaches max_depth: the same refusal, further in.
            message = f"nesting deeper than {max_depth} levels"
        stop = Issue(line, col, "", message)
        raise LocatedError(name, [*loader.refused, stop]) from None
    except (yaml.YAMLError, RecursionError) as exc:
        stop = _at_start(f"malformed YAML: {exc}")
        raise LocatedError(name, [*loader.refused, stop]) from None


def _documents(text: str, name: str, noun: str, max_depth: int, *, single: bool) -> list[Document]:
    loader = _Loader(text, noun, max_depth)
    try:
        roots = _compose(loader, name, max_depth, single=single)
    finally:
        loader.dispose()
    if loader.refused:
        raise LocatedError(name, loader.refused)
    if not roots:
        raise LocatedError(name, [_at_start(f"{noun} is empty")])
    docs: list[Document] = []
    issues: list[Issue] = []
    for root in roots:
        doc = Document(data=None)
        try:
            doc.data = _convert(loader, root, (), doc, issues)
        except yaml.YAMLError as exc:  # e.g. an invalid timestamp scalar
            raise LocatedError(name, [_at_start(f"malformed YAML: {exc}")]) from None
        docs.append(doc)
    if issues:
        raise LocatedError(name, issues)
    return docs


def _at_start(message: str) -> Issue:
    """An issue about the file as a whole, reported at its first character."""
    return Issue(1, 1, "", message)
