"""What every renderer asks of an SLI kind, and what a kind's builder may check against.

Every kind is reduced to the same two expressions, error events and total events over a
window, so that windows, the period and the alerts are built identically for all of them.
Renderers only ever talk to the `SLI` protocol; nothing outside a kind's module knows
its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from common import catalog
from common.issues import JsonPath as Path_
from rulegen import naming
from rulegen.promql import Selector
from rulegen.sli.feed import InputSeries, Segment


class Feed(Protocol):
    """Input series for the generated promtool tests, from label sets the SLI's selectors match."""

    @property
    def group(self) -> dict[str, str]:
        """The group_by labels the fed series carry (what every generated series adds)."""
        ...

    def series(self, segments: Sequence[Segment]) -> list[InputSeries]:
        """Series whose error share follows `segments`."""
        ...


class SLI(Protocol):
    @property
    def group_by(self) -> tuple[str, ...]: ...

    @property
    def time_based(self) -> bool:
        """Events are seconds of probed time rather than requests (alert texts say so)."""
        ...

    def error_events(self, window: int) -> str:
        """Error events over `window`, aggregated; 0, not absent, where events exist but
        the error series does not yet."""
        ...

    def total_events(self, window: int) -> str:
        """All events over `window`, aggregated like `error_events`."""
        ...

    def presence(self, base: int) -> tuple[str, ...]:
        """What must have series for the SLI to be measurable: each the argument of an
        absent()."""
        ...

    def describe(self) -> str:
        """The kind as `explain` names it, e.g. `latency <= 0.5s`."""
        ...

    def metrics(self) -> frozenset[str]:
        """The metric names its expressions read (SLOs sharing one disturb each other's
        alerts, so the generated tests check annotations only where they are its own)."""
        ...

    def feed(self) -> Feed | None:
        """Real input series for the generated tests, or None when they cannot be
        synthesised (then the tests feed the recordings the alerts read)."""
        ...


def deduplicate(expr: str, replicas: tuple[str, ...], op: str = "max") -> str:
    """`op without (replicas) (expr)`: series that differ only in the replica labels are
    the same events seen by each idp-exporter replica, merged into one; `expr` unchanged
    without replica labels."""
    if not replicas:
        return expr
    return f"{op} without ({', '.join(replicas)}) ({expr})"


def aggregate(
    expr: str, group_by: tuple[str, ...], op: str = "sum", replicas: tuple[str, ...] = ()
) -> str:
    """`op by (group_by) (expr)`, or `op(expr)` when not grouped; with `replicas`, over
    the maximum across replicas (summing them would count every event once per replica)."""
    expr = deduplicate(expr, replicas)
    if not group_by:
        return f"{op}({expr})"
    return f"{op} by ({', '.join(group_by)}) ({expr})"


@dataclass(frozen=True)
class Context:
    """Where a kind's spec sits and what it may collide with; findings go to `report`."""

    path: Path_  # the kind's own mapping, e.g. slos[0].sli.ratio
    spec_labels: Mapping[str, str]
    report: Callable[[Path_, str], None]
    replica_labels: tuple[str, ...] = ()  # defaults.replica_labels

    def add(self, where: Path_, message: str) -> None:
        """Report a finding at `where`, relative to the kind's own mapping."""
        self.report((*self.path, *where), message)

    def group_by(self, labels: list[str]) -> tuple[str, ...]:
        seen: set[str] = set()
        for i, label in enumerate(labels):
            where = ("group_by", i)
            if label in naming.RESERVED_LABELS:
                self.add(where, f"{label!r} is set by idp-rulegen and cannot be grouped by")
            elif label in self.spec_labels:
                self.add(where, f"{label!r} is also a metadata.labels key; the two would collide")
            elif label in seen:
                self.add(where, f"{label!r} is listed twice")
            seen.add(label)
        return tuple(labels)

    def replicas(self, sel: Selector, field: str, group_by: tuple[str, ...]) -> tuple[str, ...]:
        """The labels to deduplicate `sel` over: the replica labels when idp-exporter emits
        it (every catalog family; each replica exposes the same series), else none, so a
        third-party metric from N pods is still summed."""
        if sel.metric not in catalog.BY_NAME or not self.replica_labels:
            return ()
        for label in group_by:
            if label in self.replica_labels:
                self.add(
                    (field,),
                    f"{sel.metric} is deduplicated across idp-exporter replicas by "
                    f"{label!r} (defaults.replica_labels), so it cannot be grouped by it",
                )
        return self.replica_labels

    def check_kind(self, sel: Selector, kind: catalog.Kind, field: str) -> None:
        """Our own metrics must be used as what the exporter exposes them as."""
        family = catalog.BY_NAME.get(sel.metric)
        if family is not None and family.kind is not kind:
            self.add(
                (field,),
                f"{sel.metric} is a {family.kind.value} in the exporter catalog, not a {kind.value}",
            )


class Builder(Protocol):
    """A kind's constructor: its spec mapping (the schema model of that key) to an SLI."""

    def __call__(self, part: Any, ctx: Context, /) -> SLI: ...
