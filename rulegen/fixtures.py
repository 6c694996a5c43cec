"""Label values that satisfy (or violate) PromQL matchers, for generated test inputs.

Generated tests feed real input series through the real rules, so they need concrete
label sets that the SLI's selectors match. Regex matchers get a shortest example built
from Python's regex parse tree and verified with fullmatch (RE2 and Python agree on the
simple regexes label matchers use); when nothing fits, the caller falls back.
"""

from __future__ import annotations

import re
from typing import Any

from rulegen.promql import Matcher, Selector

_GENERIC = ("test", "other", "ok", "x", "0", "a")


class Unsupported(Exception):
    pass


def _example(pattern: str) -> str | None:
    try:
        import re._parser as parser  # type: ignore[import-not-found]  # stdlib, no stubs

        text = _walk(parser.parse(pattern))
    except (re.error, Unsupported, RecursionError, ImportError):
        return None
    return text if re.fullmatch(pattern, text) else None


def _walk(items: Any) -> str:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_in(arg))
        elif name == "BRANCH":
            out.append(_walk(arg[1][0]))
        elif name == "SUBPATTERN":
            out.append(_walk(arg[-1]))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, sub = arg
            out.append(_walk(sub) * low)
        elif name == "AT":
            continue
        else:
            raise Unsupported(name)
    return "".join(out)


def _in(items: Any) -> str:
    first_op, first_arg = str(items[0][0]), items[0][1]
    if first_op == "NEGATE":
        raise Unsupported("negated class")
    if first_op == "LITERAL":
        return chr(first_arg)
    if first_op == "RANGE":
        return chr(first_arg[0])
    if first_op == "CATEGORY":
        return {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " "}.get(str(first_arg), "a")
    raise Unsupported(first_op)


def matches(matcher: Matcher, value: str) -> bool:
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    try:
        found = re.fullmatch(matcher.value, value) is not None
    except re.error:
        return False
    return found if matcher.op == "=~" else not found


def _candidates(matchers: list[Matcher]) -> list[str]:
    out = [m.value for m in matchers if m.op == "="]
    out += [e for m in matchers if m.op == "=~" and (e := _example(m.value)) is not None]
    return [*out, *_GENERIC, ""]


def value_for(required: list[Matcher], violate: list[Matcher] | None = None) -> str | None:
    """A value meeting every `required` matcher and, if given, failing one of `violate`."""
    for candidate in _candidates(required + (violate or [])):
        if not all(matches(m, candidate) for m in required):
            continue
        if violate is not None and all(matches(m, candidate) for m in violate):
            continue
        return candidate
    return None


def labels_for(
    required: list[Selector], group_by: tuple[str, ...], violate: Selector | None = None
) -> dict[str, str] | None:
    """Labels matched by every `required` selector (and not by `violate`), or None.

    An empty value means the label is left off the series, as Prometheus treats it.
    """
    names = sorted({m.name for s in required for m in s.matchers} | set(group_by))
    labels: dict[str, str] = {}
    for name in names:
        value = value_for([m for s in required for m in s.matchers if m.name == name])
        if value is None:
            return None
        labels[name] = value
    if violate is not None:
        for name in sorted(violate.label_names()):
            if name in group_by:
                continue  # the good and bad series must land in the same group
            on_label = [m for m in violate.matchers if m.name == name]
            value = value_for([m for s in required for m in s.matchers if m.name == name], on_label)
            if value is not None:
                labels[name] = value
                break
        else:
            return None
    return {k: v for k, v in labels.items() if v}
