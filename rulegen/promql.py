"""PromQL helpers: parse user expressions, render selectors, escape user strings.

User strings never reach generated PromQL unescaped: label values are written as Go
string literals (which is what PromQL strings are), label names are validated instead.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import promql_parser as pp

from common import durations
from rulegen import promfuncs

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


def parse(expr: str) -> Any:
    """Parse as Prometheus 2.42 would, or raise ValueError with the parser's message."""
    try:
        node = pp.parse(expr)
    except ValueError as exc:
        raise ValueError(f"invalid PromQL: {exc}") from None
    problem = next(_unknown_to_prometheus(node), None)
    if problem is not None:
        raise ValueError(f"invalid PromQL for Prometheus 2.42: {problem}")
    return node


def children(node: Any) -> tuple[Any, ...]:
    """Direct sub-expressions of a promql-parser node."""
    if isinstance(node, pp.BinaryExpr):
        return (node.lhs, node.rhs)
    if isinstance(node, pp.AggregateExpr):
        if node.param is not None and not isinstance(node.param, int | float | str):
            return (node.param, node.expr)
        return (node.expr,)
    if isinstance(node, pp.Call):
        return tuple(node.args)
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return (node.expr,)
    if isinstance(node, pp.MatrixSelector):
        return (node.vector_selector,)
    return ()


_MAX_DURATION = timedelta(milliseconds=durations.MAX_MS)


def _unknown_to_prometheus(node: Any) -> Iterator[str]:
    """What promql-parser accepts and Prometheus 2.42 refuses: newer functions and
    aggregations, durations beyond Go's time.Duration."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, pp.Call) and n.func.name not in promfuncs.FUNCTIONS:
            yield f"unknown function {n.func.name}()"
        if isinstance(n, pp.AggregateExpr) and str(n.op) not in promfuncs.AGGREGATIONS:
            yield f"unknown aggregation {n.op}()"
        for attr in ("range", "step", "offset"):
            value = getattr(n, attr, None)
            if isinstance(value, timedelta) and abs(value) > _MAX_DURATION:
                yield f"duration {value.days}d out of range (at most {durations.MAX_TEXT})"
        stack.extend(children(n))


def check_expr(expr: str) -> None:
    parse(expr)


def check_alert_expr(expr: str) -> None:
    """An alerting rule's expression: Prometheus evaluates it to a vector or a scalar."""
    node = parse(expr)
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    if isinstance(node, pp.StringLiteral):
        raise ValueError("an alert expression must be an instant vector, not a string")
    if isinstance(node, pp.MatrixSelector | pp.SubqueryExpr):
        raise ValueError(
            "an alert expression must be an instant vector, not a range vector "
            "(wrap it in a function such as rate() or max_over_time())"
        )


def check_raw(expr: str) -> None:
    """A raw SLI expression: must use `$window` for its range and parse once it is filled."""
    if WINDOW_PLACEHOLDER not in expr:
        raise ValueError("raw SLI expressions must use $window as their range, e.g. [$window]")
    parse(fill_window(expr, "5m"))


def check_raw_total(expr: str) -> None:
    """A raw SLI's total must vanish when its series do: `x or vector(1)`, or a constant,
    would keep the SLO 'measured' with no data and silence its absent alert."""
    check_raw(expr)
    if yields_without_series(parse(fill_window(expr, "5m"))):
        raise ValueError(
            "the total has a value even when no series exist (a constant, vector(), "
            "absent() or `or vector(...)`): the SLO could not tell missing data from "
            "no traffic and its absent alert would never fire"
        )


# Functions whose result exists whatever the series: they make data out of nothing.
_SOURCES = frozenset({"absent", "absent_over_time", "scalar", "vector", "time", "pi"})


def yields_without_series(node: Any) -> bool:
    """True if the expression can return a sample when no series match any selector."""
    if isinstance(node, pp.VectorSelector | pp.MatrixSelector):
        return False
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return True
    if isinstance(node, pp.Call):
        if node.func.name in _SOURCES:
            return True
        series = [a for a in node.args if not isinstance(a, pp.NumberLiteral | pp.StringLiteral)]
        return all(yields_without_series(a) for a in series)  # day_of_month() is time()
    if isinstance(node, pp.BinaryExpr):
        lhs, rhs = yields_without_series(node.lhs), yields_without_series(node.rhs)
        op = str(node.op)
        if op == "or":
            return lhs or rhs
        if op == "unless":
            return lhs
        return lhs and rhs  # `and`, arithmetic, comparisons: both sides must exist
    return all(yields_without_series(c) for c in children(node))


def check_dashboard_expr(expr: str) -> None:
    parse(_GRAFANA_RANGE.sub("5m", expr))


def fill_window(expr: str, window: str) -> str:
    return expr.replace(WINDOW_PLACEHOLDER, window)


def selector(expr: str) -> Selector:
    """Parse a bare vector selector such as `x_total{a="b"}`; anything else is a ValueError."""
    node = parse(expr)
    if not isinstance(node, pp.VectorSelector):
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
