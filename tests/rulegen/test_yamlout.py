"""yamlout writes exactly what PyYAML writes, only faster: checked byte for byte."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rulegen import yamlout

# Strings a YAML emitter has opinions about: indicators, quotes, spaces at either end,
# line breaks (and spaces before them), tabs, unicode, and text that reads as another type.
AWKWARD = st.sampled_from(
    [
        "",
        " ",
        "-",
        "- x",
        "-x",
        "?x",
        ": x",
        "a: b",
        "a:b",
        "a:",
        "a #b",
        "a#b",
        "#x",
        "'q'",
        '"q"',
        "---x",
        "...x",
        "true",
        "Yes",
        "off",
        "null",
        "~",
        "1",
        "0x1f",
        "1_000",
        "1.5",
        ".inf",
        "1e3",
        "2001-12-14",
        "1:20",
        "<<",
        "=",
        "a\nb",
        "a\nb\n",
        "a\n\n",
        "a \nb",
        "a\n b\n",
        " a\nb",
        "\na",
        "a\n\nb\n",
        '{\n  "k": 1\n}',
        "x\ty",
        "ü—≤",
        'sum(rate(x{a="b"}[5m])) > 0.1',
        "{{ $labels.slo }}",
        "x" * 130,
    ]
)
TEXT = st.one_of(AWKWARD, st.text(max_size=12), st.from_regex(r"[a-z_:/.\-]{1,12}", fullmatch=True))
SCALAR = st.one_of(
    TEXT,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)
DATA = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(TEXT, st.integers(), st.booleans()), inner, max_size=4),
    ),
    max_leaves=25,
)


def _reference(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=yamlout._Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )


@settings(max_examples=3000, deadline=None)
@given(DATA)
def test_dump_is_byte_identical_to_pyyaml(data: Any) -> None:
    assert yamlout.dump(data, "") == _reference(data)


def test_plain_strings_take_the_short_path() -> None:
    """The fast path is what makes a 1,000-SLO bundle cheap: rules must stay on it."""
    assert yamlout._plain('sum(rate(x{a="b"}[5m])) / (y > 0) >= 0 < +Inf')
    assert yamlout._plain("slo:sli_error:ratio_rate5m")
    assert not yamlout._plain("1.5")
    assert not yamlout._plain("a: b")
    assert yamlout._literal("a\n  b\n", "    ") == "|\n    a\n      b\n"


def test_no_resolver_applies_to_every_first_character() -> None:
    """_plain() looks resolvers up by first character only, which holds while PyYAML has
    no wildcard (None-keyed) implicit resolver."""
    assert None not in yamlout._RESOLVERS


@settings(max_examples=500, deadline=None)
@given(st.lists(DATA, min_size=1, max_size=4), TEXT)
def test_a_rendered_list_is_placed_as_if_written_in_place(items: list[Any], key: str) -> None:
    rendered = yamlout.Rendered(items)
    data = {"spec": {key: rendered, "after": 1}, "also": [{"groups": rendered}]}
    expected = {"spec": {key: items, "after": 1}, "also": [{"groups": items}]}
    assert yamlout.dump(data, "") == _reference(expected)
