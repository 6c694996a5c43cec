"""Check Go text/template syntax as Prometheus 2.42 parses alert annotations.

Prometheus expands every annotation (and label) of an alerting rule as a Go template and
`promtool check rules` refuses one that does not parse; without this check `validate`
would accept a summary that the rule file then fails on. This is the parser's grammar
as Go 1.19 (Prometheus 2.42's toolchain) has it: delimiters, comments, quoted strings,
parentheses, the control structures and their nesting, declared variables and the
function names Prometheus defines. What only fails when the template runs (a missing
field, wrong argument types) is out of reach here, as it is for promtool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Go's builtins plus Prometheus' template functions (template/template.go in 2.42), each
# checked against promtool 2.42, which answers `function "..." not defined` otherwise.
FUNCTIONS = frozenset(
    {
        "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print",
        "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
        "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml",
        "match", "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel",
        "humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
        "humanizeTimestamp", "toTime", "pathPrefix", "externalURL", "parseDuration",
        "stripPort", "stripDomain",
    }
)  # fmt: skip

# Prometheus prefixes every alert template with these declarations.
PROMETHEUS_VARIABLES = frozenset({"$", "$labels", "$externalLabels", "$externalURL", "$value"})

_KEYWORDS = frozenset({"nil", "true", "false"})
_BLOCKS = frozenset({"if", "range", "with", "define", "block"})
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<badstring>"(?:[^"\\\n]|\\.)*)
    | (?P<raw>`[^`]*`)
    | (?P<badraw>`[^`]*)
    | (?P<char>'(?:[^'\\\n]|\\.)*')
    | (?P<badchar>'[^'\n]*)
    | (?P<number>[-+]?(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eEpP][-+]?\d+)?i?))
    | (?P<field>(?:\.[A-Za-z_]\w*)+)
    | (?P<variable>\$\w*)
    | (?P<ident>[A-Za-z_]\w*)
    | (?P<declare>:=)
    | (?P<op>[()|=,.])
    """,
    re.VERBOSE,
)
_ESCAPE = re.compile(
    r"""\\(?:[abfnrtv\\'"]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3})"""
)


class TemplateError(ValueError):
    pass


@dataclass
class _Block:
    keyword: str
    variables: set[str] = field(default_factory=set)
    seen_else: bool = False


def check(text: str) -> None:
    """Raise TemplateError with Go's wording if `text` would not parse as a template."""
    stack = [_Block("", set(PROMETHEUS_VARIABLES))]
    for action in _actions(text):
        _action(action, stack)
    if len(stack) > 1:
        raise TemplateError(f"unexpected EOF: {{{{{stack[-1].keyword}}}}} has no {{{{end}}}}")


def _actions(text: str) -> list[str]:
    """The text between each `{{` and its `}}`, trim markers and comments removed."""
    out: list[str] = []
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        i = start + 2
        if text.startswith("- ", i) or text[i : i + 2] in ("-\t", "-\n", "-\r"):
            i += 2
        if text.startswith("/*", i):
            pos = _comment(text, i)
            continue
        end = _close(text, i)
        body = text[i:end]
        out.append(body[:-2] if body.endswith((" -", "\t-", "\n-", "\r-")) else body)
        pos = end + 2
    return out


def _comment(text: str, i: int) -> int:
    close = text.find("*/", i + 2)
    if close < 0:
        raise TemplateError("unclosed comment")
    after = close + 2
    after += 2 if text[after : after + 2] in (" -", "\t-", "\n-", "\r-") else 0
    if not text.startswith("}}", after):
        raise TemplateError("comment ends before closing delimiter")
    return after + 2


def _close(text: str, i: int) -> int:
    """Where the action opened before `i` ends: the first `}}` outside a quoted string."""
    pos = i
    while pos < len(text):
        if text.startswith("}}", pos):
            return pos
        m = _TOKEN.match(text, pos)
        if m is None:
            pos += 1
            continue
        kind = m.lastgroup
        if kind == "badstring":
            raise TemplateError("unterminated quoted string")
        if kind == "badraw":
            raise TemplateError("unterminated raw quoted string")
        pos = m.end() if m.end() > pos else pos + 1
    raise TemplateError("unclosed action")


def _tokens(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise TemplateError(f"unexpected {body[pos]!r} in command")
        kind = m.lastgroup or ""
        if kind == "badchar" or (kind == "char" and not _one_char(m.group())):
            raise TemplateError(f"malformed character constant: {m.group()}")
        if kind == "string" and _ESCAPE.sub("", m.group()[1:-1]).count("\\"):
            raise TemplateError(f"invalid syntax: {m.group()}")
        if kind != "space":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def _one_char(literal: str) -> bool:
    inner = literal[1:-1]
    return len(inner) == 1 or bool(_ESCAPE.fullmatch(inner))


def _action(body: str, stack: list[_Block]) -> None:
    tokens = _tokens(body)
    if not tokens:
        raise TemplateError("missing value for command")
    kind, word = tokens[0]
    rest = tokens[1:]
    if kind == "ident" and word == "end":
        if len(stack) == 1 or rest:
            raise TemplateError("unexpected {{end}}")
        stack.pop()
    elif kind == "ident" and word == "else":
        top = stack[-1]
        if top.keyword not in ("if", "range", "with") or top.seen_else:
            raise TemplateError("unexpected {{else}}")
        if rest and rest[0] == ("ident", "if"):  # {{else if}}: an if nested in the else
            _pipeline(rest[1:], stack, top.variables)
        elif rest:
            raise TemplateError(f"unexpected <{rest[0][1]}> in else")
        else:
            top.seen_else = True
    elif kind == "ident" and word in ("break", "continue"):
        if rest or not any(b.keyword == "range" for b in stack):
            raise TemplateError(f"{{{{{word}}}}} outside {{{{range}}}}")
    elif kind == "ident" and word in _BLOCKS:
        block = _Block(word)
        if word in ("define", "block") and (not rest or rest[0][0] != "string"):
            raise TemplateError(f"{word} needs a quoted template name")
        if word == "define":
            if len(stack) > 1:
                raise TemplateError("unexpected <define> in command")
            block.variables = {"$"}  # a definition sees only its own dot
            stack.append(block)
            return
        stack.append(block)
        _pipeline(rest[1:] if word == "block" else rest, stack, block.variables, word == "range")
    elif kind == "ident" and word == "template":
        if not rest or rest[0][0] != "string":
            raise TemplateError("template needs a quoted template name")
        if rest[1:]:
            _pipeline(rest[1:], stack, stack[-1].variables)
    else:
        _pipeline(tokens, stack, stack[-1].variables)


def _pipeline(
    tokens: list[tuple[str, str]], stack: list[_Block], scope: set[str], pairs: bool = False
) -> None:
    """`[$x :=] command | command ...`; declarations land in `scope`; `range` may
    declare `$i, $v`."""
    declared, tokens = _declarations(tokens, pairs)
    depth = 0
    command: list[tuple[str, str]] = []
    # The end of the pipeline acts as a `|` after its last command.
    for i, (kind, text) in enumerate([*tokens, ("op", "|")]):
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth < 0:
                raise TemplateError('unexpected ")" in command')
        if kind == "op" and text == "|" and depth == 0:
            # Go 1.19 lets a trailing `|` pass (`{{ 1 | }}`), so promtool 2.42 does too.
            if not command and (i == 0 or i < len(tokens)):
                raise TemplateError("missing value for command")
            command = []
            continue
        if kind in ("declare", "op") and text in (":=", "=", ","):
            raise TemplateError(f"unexpected {text!r} in command")
        if kind == "variable":
            _known([text.split(".")[0]], stack)
        if kind == "ident" and text not in _KEYWORDS and text not in FUNCTIONS:
            raise TemplateError(f'function "{text}" not defined')
        command.append((kind, text))
    if depth > 0:
        raise TemplateError("unclosed left paren")
    scope.update(declared)


_ASSIGN = (("declare", ":="), ("op", "="))


def _declarations(
    tokens: list[tuple[str, str]], pairs: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """Split `$x :=`, `$i, $v :=` (or `=`) off the front of a pipeline: (declared, rest)."""
    for n in (1, 2):
        size = 2 * n - 1  # `$x` or `$i , $v`
        names, commas = tokens[0:size:2], tokens[1:size:2]
        if (
            len(tokens) > size
            and tokens[size] in _ASSIGN
            and all(kind == "variable" for kind, _ in names)
            and all(c == ("op", ",") for c in commas)
        ):
            if n == 2 and not pairs:
                raise TemplateError("too many declarations in command")
            declared = [name for _, name in names] if tokens[size][1] == ":=" else []
            return declared, tokens[size + 1 :]
    return [], tokens


def _known(names: list[str], stack: list[_Block]) -> None:
    for name in names:
        if not any(name in b.variables for b in stack):
            raise TemplateError(f'undefined variable "{name}"')
