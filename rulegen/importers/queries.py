"""PromQL shapes the importers recognise, so a query becomes the cheapest SLI that means it.

`sum(rate(SEL[W]))` over a counter is what a `ratio` SLI computes from the bare selector
(and the catalog can check it); anything else stays full PromQL (`raw`). Recognition
works on the parsed expression, never on text, so spacing and comments do not matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import promql_parser

from rulegen import promql
from rulegen.promql import Matcher, Selector

WINDOW = promql.WINDOW_PLACEHOLDER
# Any duration works for parsing; the importers replace their window templates with it.
PROBE_WINDOW = "5m"
_COUNTER_FUNCTIONS = ("rate", "increase")
_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
# `<expr> or on() vector(0)`: how Sloth users keep an absent error series from hiding
# the SLO. The SLIs already count absent errors as 0 wherever total events exist.
_VECTOR_ZERO = re.compile(r"\s*\bor\s+(on\s*\(\s*\)\s*)?vector\s*\(\s*0(\.0*)?\s*\)\s*$")


def parse(expr: str) -> object:
    """Parse a query whose window is `$window`; ValueError with the parser's message."""
    return promql.parse(expr.replace(WINDOW, PROBE_WINDOW))


@dataclass(frozen=True)
class CounterSum:
    """`sum [by (...)] (rate|increase(SEL[W]))`: one counter, summed over its series."""

    selector: Selector
    function: str
    group_by: tuple[str, ...]


def _selector(node: object) -> Selector | None:
    if not isinstance(node, promql_parser.VectorSelector):
        return None
    if node.offset is not None or node.at is not None or not node.name:
        return None
    matchers = tuple(
        Matcher(m.name, _op(m.op), m.value) for m in node.matchers.matchers if m.name != "__name__"
    )
    if node.matchers.or_matchers:
        return None
    return Selector(str(node.name), matchers)


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _op(op: object) -> str:
    return _OPS[str(op)]


def _unparen(node: object) -> object:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def _counter_call(node: object) -> tuple[Selector, str] | None:
    node = _unparen(node)
    if not isinstance(node, promql_parser.Call) or node.func.name not in _COUNTER_FUNCTIONS:
        return None
    arg = node.args[0]
    if not isinstance(arg, promql_parser.MatrixSelector):
        return None
    sel = _selector(arg.vector_selector)
    return None if sel is None else (sel, node.func.name)


def counter_sum(expr: str) -> CounterSum | None:
    """The counter behind `sum(rate(SEL[$window]))`, or None for any other shape."""
    try:
        node = _unparen(parse(expr))
    except ValueError:
        return None
    if not isinstance(node, promql_parser.AggregateExpr) or str(node.op) != "sum":
        return None
    modifier = str(node.modifier) if node.modifier is not None else ""
    if node.param is not None or modifier.startswith("without"):
        return None
    inner = _counter_call(node.expr)
    if inner is None:
        return None
    labels = tuple(node.modifier.labels) if node.modifier is not None else ()
    return CounterSum(inner[0], inner[1], labels)


def counter_selector(expr: str) -> Selector | None:
    """A counter as OpenSLO writes it: `SEL`, `rate(SEL[W])` or `sum(rate(SEL[W]))`.

    Any fixed range is dropped: idp-slo evaluates the counter over its own windows.
    """
    try:
        node = _unparen(parse(expr))
    except ValueError:
        return None
    if isinstance(node, promql_parser.AggregateExpr) and str(node.op) == "sum":
        if node.param is not None or node.modifier is not None:
            return None
        node = _unparen(node.expr)
    call = _counter_call(node)
    return call[0] if call is not None else _selector(node)


def strip_vector_zero(expr: str) -> str | None:
    """`E or on() vector(0)` -> `E`; None when the query does not end that way."""
    try:
        node = _unparen(parse(expr))
    except ValueError:
        return None
    if not isinstance(node, promql_parser.BinaryExpr) or str(node.op) != "or":
        return None
    rhs = _unparen(node.rhs)
    if not (
        isinstance(rhs, promql_parser.Call)
        and rhs.func.name == "vector"
        and isinstance(rhs.args[0], promql_parser.NumberLiteral)
        and rhs.args[0].val == 0
    ):
        return None
    text = expr.strip()
    while text.startswith("(") and text.endswith(")"):
        inner = text[1:-1]
        try:
            parse(inner)
        except ValueError:
            break
        text = inner.strip()
    stripped = _VECTOR_ZERO.sub("", text)
    return stripped.strip() if stripped != text else None


def negation(good: Selector, total: Selector) -> Selector | None:
    """The bad-events selector when `good` is `total` plus one matcher: its negation.

    PromQL matchers treat a missing label as "", so every series of `total` matches
    exactly one of the matcher and its negation: bad = total - good, series by series.
    """
    if good.metric != total.metric:
        return None
    extra = [m for m in good.matchers if m not in total.matchers]
    if len(extra) != 1 or len(good.matchers) != len(total.matchers) + 1:
        return None
    (m,) = extra
    if any(t.name == m.name for t in total.matchers):
        return None  # two matchers on one label: the negation is not the complement
    return Selector(total.metric, (*total.matchers, Matcher(m.name, _NEGATED[m.op], m.value)))


def bucket_histogram(expr: str) -> Selector | None:
    """The histogram behind a `X_bucket` query (bare, or inside histogram_quantile): its
    base name and matchers, without `le`; None when the query reads no single histogram."""
    try:
        node = parse(expr)
    except ValueError:
        return None
    found: list[Selector | None] = []

    def visit(n: object) -> None:
        if isinstance(n, promql_parser.VectorSelector):
            found.append(_selector(n))

    promql_parser.walk(node, pre_visit=visit)  # type: ignore[arg-type]
    if len(found) != 1 or found[0] is None or not found[0].metric.endswith("_bucket"):
        return None
    sel = found[0]
    if "le" in sel.label_names():
        return None
    return Selector(sel.metric.removesuffix("_bucket"), sel.matchers)


def bare_selector(expr: str) -> Selector | None:
    """`SEL` alone (no function, range or offset), or None."""
    try:
        return _selector(_unparen(parse(expr)))
    except ValueError:
        return None
