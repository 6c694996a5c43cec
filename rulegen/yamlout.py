"""Deterministic YAML text: key order as built, block style, multi-line strings as `|` blocks.

The output is defined as PyYAML's (safe dumper, block style, unbounded width), but a
rule bundle is hundreds of thousands of scalars and PyYAML spends most of its time
building a node per scalar. So the block structure is written here directly and every
scalar takes a short path when it is unmistakably plain (or a simple literal block);
anything else (quotes, unicode, numbers-looking text, odd whitespace) is handed, with
its enclosing key or item, to PyYAML itself. A property test holds the two byte-identical.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml


class _Dumper(yaml.CSafeDumper):  # libyaml's emitter, as common/yamlsafe.py uses its parser
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice, never as &id001 / *id001


def _str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

# A plain scalar may not start with an indicator or a space (nor with "---" or "...").
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@` ")
_LITERAL = re.compile(r"[\x21-\x7e][\x20-\x7e\n]*")
_RESOLVERS = yaml.resolver.Resolver.yaml_implicit_resolvers
_MAX_KEY = 100  # PyYAML writes keys of 128+ characters as explicit `? key` entries


def _pyyaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,  # never fold long PromQL across lines
    )


@functools.lru_cache(maxsize=16384)  # labels, windows and keys repeat all through a bundle
def _plain(s: str) -> bool:
    """True when PyYAML would write s as a plain scalar, as it is.

    Printable ASCII only (anything else asks PyYAML); string methods, not a regex, as
    this runs for every scalar of a bundle.
    """
    if not (s and s.isascii() and s.isprintable()) or s[0] in _NOT_FIRST or s[-1] in " :":
        return False
    if ": " in s or " #" in s or s.startswith(("---", "...")):
        return False
    # ... and it does not read back as another type (true, 1.5, ~, 2001-12-14 ...).
    resolvers = _RESOLVERS.get(s[0])
    return resolvers is None or not any(regexp.match(s) for _, regexp in resolvers)


def _scalar(value: Any) -> str | None:
    """A one-line scalar (or empty collection) as PyYAML writes it; None: ask PyYAML."""
    kind = type(value)
    if kind is str:
        return value if "\n" not in value and _plain(value) else None
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float and value == value and abs(value) != float("inf"):
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    if kind is dict or kind is list:
        return "{}" if kind is dict else "[]"  # only empty ones get here
    return None


def _literal(s: str, pad: str) -> str | None:
    """`|` or `|-` block for a multi-line string, content lines at pad; None: ask PyYAML."""
    if not _LITERAL.fullmatch(s) or " \n" in s or s[-1] == " " or s.endswith("\n\n"):
        return None
    body, head = (s[:-1], "|\n") if s[-1] == "\n" else (s, "|-\n")
    return head + "".join(f"{pad}{line}\n" if line else "\n" for line in body.split("\n"))


class _OpenEnded(Exception):
    """PyYAML ended a lone key or item with "...": whether the whole document ends that
    way depends on what follows (libyaml's open_ended state), so let PyYAML do it all."""


def _shift(text: str, pad: str) -> str:
    """PyYAML's text for a lone key or item, moved to where it sits in the document."""
    if text.endswith("\n...\n"):
        raise _OpenEnded
    if not pad:
        return text
    return "".join(pad + ln if ln != "\n" else ln for ln in text.splitlines(keepends=True))


class Rendered:
    """A non-empty list written once and placed, as is, wherever it is a mapping's value:
    the rule groups go into the rules file and again into the PrometheusRule."""

    def __init__(self, data: list[Any], text: str | None = None) -> None:
        self.data = data
        if text is None:
            out: list[str] = []
            try:
                _write(data, 0, out)
            except _OpenEnded:
                out = []  # cannot be moved as text: written again where it is placed
            text = "".join(out)
        self.text = text

    def items(self) -> list[Rendered]:
        """Each item on its own, its text cut from this one (nothing is written again)."""
        if not self.text:
            return [Rendered([item]) for item in self.data]
        # Items start at column 0 with "- "; everything inside them is indented.
        starts = [m.start() for m in re.finditer(r"(?m)^- ", self.text)]
        ends = [*starts[1:], len(self.text)]
        return [
            Rendered([item], self.text[a:b])
            for item, a, b in zip(self.data, starts, ends, strict=True)
        ]

    @staticmethod
    def join(parts: list[Rendered]) -> Rendered:
        texts = [p.text for p in parts]
        text = "".join(texts) if all(texts) else None
        return Rendered([item for p in parts for item in p.data], text)

    def placed(self, indent: int) -> str:
        return re.sub(r"(?m)^(?!$)", " " * indent, self.text) if indent else self.text


def _unwrap(dumper: _Dumper, value: Rendered) -> yaml.Node:
    return dumper.represent_data(value.data)


_Dumper.add_representer(Rendered, _unwrap)


def _write(data: dict[Any, Any] | list[Any], indent: int, out: list[str]) -> None:
    """Append a non-empty block collection, its lines at `indent`, to out."""
    pad = " " * indent
    if type(data) is dict:
        for key, value in data.items():
            if type(key) is str and len(key) < _MAX_KEY and _plain(key):
                kind = type(value)
                if kind is Rendered and value.text:
                    out.append(f"{pad}{key}:\n")
                    out.append(value.placed(indent))  # a list: not indented under its key
                    continue
                if kind is Rendered:
                    value, kind = value.data, type(value.data)
                if (kind is dict or kind is list) and value:
                    out.append(f"{pad}{key}:\n")
                    # PyYAML indents a mapping under its key, but not a list.
                    _write(value, indent + 2 if kind is dict else indent, out)
                    continue
                if kind is str and "\n" in value:
                    text = _literal(value, pad + "  ")
                    if text is not None:
                        out.append(f"{pad}{key}: {text}")
                        continue
                else:
                    text = _scalar(value)
                    if text is not None:
                        out.append(f"{pad}{key}: {text}\n")
                        continue
            out.append(_shift(_pyyaml({key: value}), pad))
        return
    for value in data:
        if type(value) is Rendered:
            value = value.data
        kind = type(value)
        if (kind is dict or kind is list) and value:
            # The collection as if two deeper, its first line's indent replaced by "- ".
            first = len(out)
            _write(value, indent + 2, out)
            out[first] = pad + "- " + out[first][indent + 2 :]
            continue
        text = _scalar(value)
        out.append(f"{pad}- {text}\n" if text is not None else _shift(_pyyaml([value]), pad))


def dump(data: Any, header: str) -> str:
    if not (isinstance(data, dict | list) and data):
        return header + _pyyaml(data)
    out = [header]
    try:
        _write(data, 0, out)
    except _OpenEnded:  # a string ending in two line breaks: rare enough to pay for
        return header + _pyyaml(data)
    return "".join(out)


def dump_tests(head: dict[str, Any], tests: list[tuple[str, dict[str, Any]]], header: str) -> str:
    """A promtool test file with a comment above each test saying what it proves."""
    out = [dump(head, header), "tests:\n"]
    for comment, test in tests:
        out.extend(f"# {line}\n" for line in comment.splitlines())
        out.append(dump([test], ""))
    return "".join(out)
