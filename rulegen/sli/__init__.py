"""The SLI kinds, by spec key. Adding a kind is one module (see base.SLI) and one line here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from common.issues import JsonPath as Path_
from rulegen import spec
from rulegen.sli import latency, probe, ratio, raw
from rulegen.sli.base import SLI, Builder, Context

KINDS: Mapping[str, Builder] = {
    "ratio": ratio.build,
    "latency": latency.build,
    "probe": probe.build,
    "raw": raw.build,
}


def build(
    s: spec.SLI,
    spec_labels: Mapping[str, str],
    path: Path_,
    report: Callable[[Path_, str], None],
    replica_labels: tuple[str, ...] = (),
) -> SLI:
    """The SLI of the one kind the spec gives (the schema guarantees exactly one)."""
    for key, builder in KINDS.items():
        part = getattr(s, key)
        if part is not None:
            return builder(part, Context((*path, key), spec_labels, report, replica_labels))
    raise AssertionError(f"{'/'.join(map(str, path))}: no SLI kind (the schema requires one)")
