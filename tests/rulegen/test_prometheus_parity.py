"""`validate` refuses what Prometheus 2.42 / Kubernetes would reject, located, exit 2.

Each allow-list and grammar here is held against promtool 2.42 itself: a spec that
validates must give a rule file promtool accepts, and one refused must be refused for a
reason promtool (or the API server, or the SLO's own arithmetic) would also find.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from common import durations
from rulegen import gotemplate, promfuncs

from .helpers import RATIO_SLO, assert_refused, cli, run_promtool, spec

# Names promql-parser 0.12 accepts that Prometheus 2.42 does not know.
NEWER_FUNCTIONS = ("sort_by_label", "sort_by_label_desc", "mad_over_time", "histogram_avg",
                   "histogram_stddev", "histogram_stdvar", "double_exponential_smoothing", "info")  # fmt: skip
NEWER_AGGREGATIONS = ("limitk", "limit_ratio")


def _promtool_errors(
    promtool: str, tmp_path: Path, rules: list[dict[str, object]]
) -> dict[int, str]:
    """promtool check rules on one group of `rules`: rule index (0-based) -> its error."""
    path = tmp_path / "parity.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    proc = run_promtool(promtool, "check", "rules", str(path))
    found = re.finditer(r'rule (\d+), "[^"]+": (.*)', proc.stdout + proc.stderr)
    return {int(m.group(1)) - 1: m.group(2) for m in found}


def test_function_allow_list_is_exactly_what_promtool_2_42_knows(
    promtool: str, tmp_path: Path
) -> None:
    names = sorted(promfuncs.FUNCTIONS) + list(NEWER_FUNCTIONS)
    aggs = sorted(promfuncs.AGGREGATIONS) + list(NEWER_AGGREGATIONS)
    # Wrong argument types are fine: promtool names an unknown function before it
    # checks the arguments.
    exprs = [f"{n}(x)" for n in names] + [f"{a}(x)" for a in aggs]
    rules: list[dict[str, object]] = [{"record": f"r{i}", "expr": e} for i, e in enumerate(exprs)]
    errors = _promtool_errors(promtool, tmp_path, rules)
    unknown = {exprs[i].split("(")[0] for i, e in errors.items() if "unknown function" in e}
    assert unknown == set(NEWER_FUNCTIONS) | set(NEWER_AGGREGATIONS)


# Templates promtool 2.42 accepts (None) or refuses (its message, which ours repeats).
TEMPLATES = [
    ("{{ $labels.a }}{{ $value }}{{ $externalLabels.a }}{{ $externalURL }}", None),
    ("{{ $x }}", 'undefined variable "$x"'),
    ("{{ if 1 }}a", "unexpected EOF"),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ else }}", "unexpected {{else}}"),
    ("{{ range $i, $v := . }}{{ $v }}{{ end }}{{ $v }}", 'undefined variable "$v"'),
    ("{{ range $i, $v := . }}{{ $v }}{{ $i }}{{ end }}", None),
    ("{{/* c */}}", None),
    ("{{- /* c */ -}}", None),
    ("{{- 1 -}}", None),
    ('{{ "a }}', "unterminated quoted string"),
    ("{{ (1 }}", "unclosed left paren"),
    ('{{ define "x" }}{{ end }}{{ template "x" }}', None),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ("{{ range . }}{{ continue }}{{ else }}none{{ end }}", None),
    ("{{}}", "missing value for command"),
    ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", None),
    ("{{ 'ab' }}", "malformed character constant"),
    ("{{ '\\n' }}", None),
    ("{{ 1.5e3 }}{{ 0x1F }}{{ -1 }}{{-1}}{{ nil }}", None),
    ("{{ with $x := 1 }}{{ $x }}{{ else with 2 }}{{ end }}", "unexpected <with> in else"),
    ("{{ if 1 }}{{ else if 2 }}{{ else }}{{ end }}", None),
    ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", "{{else}}"),
    ("{{ /* c */ }}", "in command"),
    ("{{/* c */ 1 }}", "comment ends before closing delimiter"),
    ("{{/* unclosed", "unclosed comment"),
    ('{{ block "b" . }}x{{ end }}', None),
    ('{{ "\\q" }}', "invalid syntax"),
    ('{{ "\\x41\\u00e9\\"" }}', None),
    ("{{ `raw }}", "unterminated raw quoted string"),
    ('{{ `a}}b` }}{{ "}}" }}', None),
    ("{{ (humanize 1).x }}{{ $labels.a.b }}", None),
    ("{{ ) }}", "in command"),
    ("{{ nofunc 1 }}", 'function "nofunc" not defined'),
    ("{{ humanizeBytes 1 }}", 'function "humanizeBytes" not defined'),
    ('{{ query "up" | first | value | humanize }}', None),
    ('{{ range query "up" }}{{ .Labels.instance }} {{ .Value }}{{ end }}', None),
    ("{{ if and (gt $value 1.0) (lt $value 2.0) }}mid{{ end }}", None),
    ('{{ $value | humanizePercentage }} {{ reReplaceAll "(.*)" "$1" "x" }}', None),
    ("plain text with }} and {", None),
    ("{{ end 1 }}", "end"),
    ('{{ if 1 }}{{ define "x" }}{{ end }}{{ end }}', "unexpected <define>"),
    ("{{ $a, $b := 1 }}", "too many declarations"),
    ("{{ 1 | }}", None),  # Go 1.19 lets a trailing `|` pass
    ("{{ if 1 -}} x {{- end }}", None),
]


def test_template_checker_agrees_with_promtool(promtool: str, tmp_path: Path) -> None:
    rules: list[dict[str, object]] = [
        {"alert": f"Case{i}x", "expr": "x", "annotations": {"summary": text}}
        for i, (text, _) in enumerate(TEMPLATES)
    ]
    theirs = _promtool_errors(promtool, tmp_path, rules)
    for i, (text, expected) in enumerate(TEMPLATES):
        try:
            gotemplate.check(text)
            ours = None
        except gotemplate.TemplateError as exc:
            ours = str(exc)
        assert (ours is None) == (i not in theirs), (text, ours, theirs.get(i))
        if expected is not None:
            assert ours is not None and expected in ours, (text, ours)
            assert expected.split(":")[0] in theirs[i], (text, theirs[i])


def test_duration_limit_is_promtools(promtool: str, tmp_path: Path) -> None:
    longest = durations.MAX_TEXT
    too_long = longest.replace("854ms", "855ms")
    assert durations.parse_ms(longest) == durations.MAX_MS
    with pytest.raises(ValueError, match="out of range"):
        durations.parse_ms(too_long)
    rules: list[dict[str, object]] = [
        {"alert": "Longest", "expr": "x", "for": longest},
        {"alert": "TooLong", "expr": "x", "for": too_long},
    ]
    for rule, ok in zip(rules, (True, False), strict=True):
        path = tmp_path / "for.rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
        proc = run_promtool(promtool, "check", "rules", str(path))
        assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr


_ALERT = "alerts:\n  - {{name: HighErrors, expr: {expr}, severity: warning, summary: {summary}}}\n"


def _alert(expr: str = '"x > 0"', summary: str = "S.", extra: str = "") -> str:
    return RATIO_SLO + _ALERT.format(expr=expr, summary=summary).replace("}\n", extra + "}\n")


# (body, line, path, message): line counted in the body, as test_spec_errors does.
REFUSED = [
    pytest.param(_alert('"limitk(2, x) > 0"'), 9, "alerts[0].expr", "unknown aggregation limitk()",
                 id="limitk"),
    pytest.param(_alert("'sort_by_label(x, \"a\")'"), 9, "alerts[0].expr",
                 "unknown function sort_by_label()", id="sort_by_label"),
    pytest.param(_alert('"mad_over_time(x[5m]) > 1"'), 9, "alerts[0].expr",
                 "unknown function mad_over_time()", id="mad_over_time"),
    pytest.param(_alert('"rate(x[1000y]) > 0"'), 9, "alerts[0].expr", "out of range",
                 id="range-1000y"),
    pytest.param(_alert(extra=", for: 1000y"), 9, "alerts[0].for", "out of range", id="for-1000y"),
    pytest.param(_alert("'\"down\"'"), 9, "alerts[0].expr", "not a string", id="expr-string"),
    pytest.param(_alert('"x[5m]"'), 9, "alerts[0].expr", "not a range vector", id="expr-range"),
    pytest.param(_alert('"(x[5m:1m])"'), 9, "alerts[0].expr", "not a range vector",
                 id="expr-subquery"),
    pytest.param(_alert(summary='"{{ $labels.x "'), 9, "alerts[0].summary", "unclosed action",
                 id="template-unclosed"),
    pytest.param(_alert(extra=', description: "{{ nofunc 1 }}"'), 9, "alerts[0].description",
                 'function "nofunc" not defined', id="template-function"),
    pytest.param(RATIO_SLO.replace("objective:", 'service: "{{ x }}"\n    objective:'), 3,
                 "slos[0].service", "template syntax", id="service-template"),
    pytest.param(RATIO_SLO.replace("ratio:\n        errors: app_errors_total\n        total: app_requests_total",
                                   'raw: {errors: "rate(e_total[$window])", '
                                   'total: "rate(t_total[$window]) or vector(1)"}'),
                 5, "slos[0].sli.raw.total", "no series exist", id="raw-or-vector"),
    pytest.param(RATIO_SLO.replace("ratio:\n        errors: app_errors_total\n        total: app_requests_total",
                                   'raw: {errors: "rate(e_total[$window])", '
                                   'total: "count_over_time(vector(1)[$window:])"}'),
                 5, "slos[0].sli.raw.total", "no series exist", id="raw-constant"),
    # Its recording would exist with no input: the generated tests feed that recording.
    pytest.param(RATIO_SLO.replace("ratio:\n        errors: app_errors_total\n        total: app_requests_total",
                                   'raw: {errors: "rate(e_total[$window]) or vector(0)", '
                                   'total: "rate(t_total[$window]) + 0 * scalar(up)"}'),
                 5, "slos[0].sli.raw.errors", "returns a sample even when no series exists",
                 id="raw-errors-or-vector-0"),
    pytest.param(RATIO_SLO + "outputs: {rule_labels: {release: has space}}\n", 8,
                 "outputs.rule_labels", "not a Kubernetes label value", id="rule-label-value"),
    pytest.param(RATIO_SLO + f"outputs: {{rule_labels: {{release: {'a' * 64}}}}}\n", 8,
                 "outputs.rule_labels", "not a Kubernetes label value", id="rule-label-long"),
    pytest.param(RATIO_SLO + "outputs: {rule_labels: {_release: x}}\n", 8,
                 "outputs.rule_labels", "not a Kubernetes label name", id="rule-label-key"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "line", "path", "message"), REFUSED)
def test_validate_refuses_what_prometheus_or_kubernetes_would(
    tmp_path: Path, body: str, line: int, path: str, message: str
) -> None:
    assert_refused(spec(tmp_path, body), line, path, message)


ACCEPTED = [
    pytest.param(_alert('"topk(3, rate(x[5m])) > 0"', '"{{ $labels.job }} at {{ $value | humanize }}."'),
                 id="topk-and-template"),
    pytest.param(RATIO_SLO + "outputs: {rule_labels: {app.kubernetes.io/part-of: idp, release: prom_1.x}}\n",
                 id="kubernetes-label-keys"),
]  # fmt: skip


@pytest.mark.parametrize("body", ACCEPTED)
def test_valid_specs_still_validate_and_promtool_agrees(
    tmp_path: Path, promtool: str, body: str
) -> None:
    spec_path = spec(tmp_path, body)
    result = cli("render", str(spec_path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rules = tmp_path / "out" / "alerts" / "t.rules.yml"
    proc = run_promtool(promtool, "check", "rules", str(rules))
    assert proc.returncode == 0, proc.stdout + proc.stderr
