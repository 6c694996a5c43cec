"""Safe YAML loading that remembers where every value came from.

PyYAML's `safe_load` still accepts alias bombs, silently keeps the last of duplicate
keys and forgets line numbers. This loader composes the node tree, rejects aliases and
duplicate keys, caps the input size, and returns plain Python data plus a map from each
value's path (a tuple of keys and indices) to its 1-based (line, column), so validation
errors can point at the file.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1 << 20  # a config file is a few KiB; anything near this is a mistake or an attack

Path = tuple[str | int, ...]
Marks = dict[Path, tuple[int, int]]


class YamlError(Exception):
    """The text is not acceptable YAML; `line`/`col` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


def load(text: str) -> tuple[Any, Marks]:
    """Parse one YAML document into plain data and the marks of every path in it."""
    if len(text.encode()) > MAX_BYTES:
        raise YamlError(f"file is larger than {MAX_BYTES} bytes")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line, col = (
                    (event.start_mark.line, event.start_mark.column) if event.start_mark else (0, 0)
                )
                raise YamlError("YAML aliases are not allowed", line + 1, col + 1)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise YamlError(f"invalid YAML: {exc.problem or exc}", *where) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError("YAML nested too deeply") from None
    if node is None:
        return None, {}
    marks: Marks = {}
    try:
        data = _build(node, (), marks, SafeConstructor())
    except RecursionError:
        raise YamlError("YAML nested too deeply") from None
    return data, marks


def _build(node: Node, path: Path, marks: Marks, scalars: SafeConstructor) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(key_node, path, {}, scalars)
            if not isinstance(key, str):
                raise YamlError(
                    f"mapping keys must be strings, got {key!r}",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            if key in out:
                raise YamlError(
                    f"duplicate key {key!r}",
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            out[key] = _build(value_node, (*path, key), marks, scalars)
        return out
    if isinstance(node, SequenceNode):
        return [_build(item, (*path, i), marks, scalars) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    try:
        return scalars.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise YamlError(
            f"invalid value: {exc.problem}", node.start_mark.line + 1, node.start_mark.column + 1
        ) from None
