"""Kubernetes label selectors, evaluated client-side.

The Argo source lists every workflow in its namespaces (`idp_workflows` counts them all)
and picks deployments out of that stream itself, so the deployment selector from the
config is matched here rather than by the API server. Grammar as in
k8s.io/apimachinery/pkg/labels: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
`a`, `!a`, joined by commas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQ = re.compile(rf"^(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})$")
_EXISTS = re.compile(rf"^(?P<neg>!?)\s*(?P<key>{_KEY})$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return labels.get(self.key) in self.values
        # notin: also true when the label is absent, as in Kubernetes.
        return labels.get(self.key) not in self.values


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse(text: str) -> Selector:
    """Parse a selector; raise ValueError naming the bad clause."""
    return Selector(tuple(_requirement(clause) for clause in _clauses(text)))


def _clauses(text: str) -> list[str]:
    # Commas separate clauses except inside the parentheses of a set.
    clauses, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            clauses.append(text[start:i])
            start = i + 1
    clauses.append(text[start:])
    stripped = [c.strip() for c in clauses]
    if stripped == [""]:
        return []
    if "" in stripped or depth != 0:
        raise ValueError(f"invalid label selector {text!r}")
    return stripped


def _requirement(clause: str) -> Requirement:
    if m := _SET.match(clause):
        values = [v.strip() for v in m["values"].split(",")]
        if not all(_VALUE_ONLY.match(v) for v in values):
            raise ValueError(f"invalid values in label selector clause {clause!r}")
        return Requirement(m["key"], m["op"], frozenset(values))
    if m := _EQ.match(clause):
        return Requirement(m["key"], "notin" if m["op"] == "!=" else "in", frozenset([m["value"]]))
    if m := _EXISTS.match(clause):
        return Requirement(m["key"], "!exists" if m["neg"] else "exists")
    raise ValueError(f"invalid label selector clause {clause!r}")
