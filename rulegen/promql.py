"""PromQL helpers: parse user expressions, render selectors, escape user strings.

User strings never reach generated PromQL unescaped: label values are written as Go
string literals (which is what PromQL strings are), label names are validated instead.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import promql_parser

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
WINDOW_PLACEHOLDER = "$window"
# Grafana range variables stand in for a duration inside `[...]`.
_GRAFANA_RANGE = re.compile(r"\$(?:__\w+|\{__\w+\})")

_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}
_REGEX_META = set("\\.+*?()|[]{}^$")


def string(value: str) -> str:
    """A PromQL string literal: Go escaping, so `"` and `\\` cannot end or alter the literal."""
    return _quote(value)


# json.dumps(value, ensure_ascii=False) without its per-call encoder set-up.
_quote = json.encoder.encode_basestring


@functools.lru_cache(maxsize=4096)  # the same thresholds and objectives, over and over
def number(value: Decimal) -> str:
    """A number literal in plain decimal notation (0.001, never 1E-3), so rules read like the spec."""
    return format(value.normalize(), "f")


def regex_literal(value: str) -> str:
    """Escape `value` so an RE2 regex matches exactly it."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in value)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.name}{self.op}{string(self.value)}"


@dataclass(frozen=True)
class Selector:
    """A bare instant-vector selector: metric name plus label matchers, no range or offset."""

    metric: str
    matchers: tuple[Matcher, ...] = ()

    def render(self, extra: tuple[Matcher, ...] = (), suffix: str = "") -> str:
        matchers = (*self.matchers, *extra)
        inner = ",".join(m.render() for m in matchers)
        return f"{self.metric}{suffix}{{{inner}}}" if matchers else f"{self.metric}{suffix}"

    def label_names(self) -> set[str]:
        return {m.name for m in self.matchers}


def parse(expr: str) -> object:
    """Parse or raise ValueError with the parser's message."""
    try:
        return promql_parser.parse(expr)
    except ValueError as exc:
        raise ValueError(f"invalid PromQL: {exc}") from None


def check_expr(expr: str) -> None:
    parse(expr)


def check_raw(expr: str) -> None:
    """A raw SLI expression: must use `$window` for its range and parse once it is filled."""
    if WINDOW_PLACEHOLDER not in expr:
        raise ValueError("raw SLI expressions must use $window as their range, e.g. [$window]")
    parse(fill_window(expr, "5m"))


def check_dashboard_expr(expr: str) -> None:
    parse(_GRAFANA_RANGE.sub("5m", expr))


def fill_window(expr: str, window: str) -> str:
    return expr.replace(WINDOW_PLACEHOLDER, window)


def selector(expr: str) -> Selector:
    """Parse a bare vector selector such as `x_total{a="b"}`; anything else is a ValueError."""
    node = parse(expr)
    if not isinstance(node, promql_parser.VectorSelector):
        raise ValueError('must be a bare vector selector such as metric{label="value"}')
    if node.offset is not None or node.at is not None:
        raise ValueError("must not use offset or @ modifiers")
    if not node.name:
        raise ValueError("must name a metric (metric{...}), not only label matchers")
    matchers = tuple(
        Matcher(m.name, _OPS[str(m.op)], m.value)
        for m in node.matchers.matchers
        if m.name != "__name__"
    )
    return Selector(str(node.name), matchers)


def le_values(threshold: Decimal) -> tuple[str, ...]:
    """Every way client libraries write this `le` bound: Go `900`, Python `900.0`, `0.25`."""
    value = float(threshold)
    forms = {repr(value)}
    if value.is_integer() and abs(value) < 1e15:
        forms |= {str(int(value)), f"{int(value)}.0"}
    return tuple(sorted(forms, key=lambda s: (len(s), s)))


def le_matcher(threshold: Decimal) -> Matcher:
    forms = le_values(threshold)
    if len(forms) == 1:
        return Matcher("le", "=", forms[0])
    return Matcher("le", "=~", "|".join(regex_literal(f) for f in forms))


def template_literal(text: str) -> str:
    """Make text safe inside an alert annotation: Prometheus expands `{{` as a Go template."""
    return text.replace("{{", '{{ "{{" }}')
