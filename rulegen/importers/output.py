"""Converted SLOs -> one idp-slo spec text, proven by the real loader, model and renderer.

Each SLO is first built alone: what idp-slo refuses (a catalog mismatch, a tier that
can never fire) is reported at the SLO's source and the SLO is left out, so one bad SLO
never costs the others. The assembled spec must then load, build and render; if it does
not, the importer has a bug (ImportBug), never the user.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from common import yamlsafe
from common.issues import Issue, LocatedError
from common.yamlsafe import Document
from rulegen import bundle, model, naming, promql, spec, yamlout
from rulegen.errors import SpecError
from rulegen.importers.source import Note

FALLBACK_NAME = "imported"


class ImportBug(RuntimeError):
    """The importer wrote a spec idp-slo refuses: a defect here, not in the input."""


@dataclass
class ImportedSLO:
    """One converted SLO: the spec mapping, where it came from, what it was called there."""

    data: dict[str, Any]
    file: str
    line: int
    col: int
    path: str  # in the source document, e.g. `slos[2]`
    origin: str  # e.g. `Sloth SLO "requests-availability"`
    # Labels the source puts on every rule of the SLO; the spec has them per spec only.
    labels: dict[str, str] = field(default_factory=dict)

    def note(self, message: str) -> Note:
        return Note(self.file, Issue(self.line, self.col, self.path, message))


def k8s_name(text: str, limit: int = spec.MAX_SLO_NAME) -> str:
    """A name idp-slo accepts ([a-z0-9-], at most `limit`), as close to `text` as it gets."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:limit].rstrip("-") or "slo"


def _rule_labels(slo: ImportedSLO, notes: list[Note]) -> dict[str, str]:
    kept = {}
    for key, value in slo.labels.items():
        if key in naming.RESERVED_LABELS or key.startswith("__"):
            notes.append(slo.note(f"label {key!r} is set by idp-rulegen; dropped"))
        elif not promql.LABEL_NAME.match(key) or not value or "{{" in value:
            notes.append(slo.note(f"label {key}={value!r} is not a valid label; dropped"))
        else:
            kept[key] = value
    return kept


def _head(name: str, labels: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    return {"apiVersion": spec.API_VERSION, "kind": spec.KIND, "metadata": metadata}


def _problems(data: dict[str, Any], name: str) -> tuple[Issue, ...]:
    """What the real loader, model and renderer say about `data` (nothing: it is valid)."""
    doc = Document(data)
    try:
        bundle.render(model.build(spec.parse(doc, name), doc, name))
    except SpecError as exc:
        return exc.issues
    return ()


def _accepted(slo: ImportedSLO, labels: dict[str, str], notes: list[Note]) -> bool:
    """Build the SLO alone; what idp-slo refuses is noted at the SLO's source."""
    problems = _problems({**_head("check", labels), "slos": [slo.data]}, "<import>")
    for issue in problems:
        where = issue.path.removeprefix("slos[0]").lstrip(".") or "$"
        notes.append(
            slo.note(f"{slo.origin} not imported: idp-slo refuses {where}: {issue.message}")
        )
    return not problems


def _common(labels: Sequence[dict[str, str]]) -> dict[str, str]:
    shared = set(labels[0].items())
    for other in labels[1:]:
        shared &= set(other.items())
    return dict(shared)


def _spread_labels(
    slos: list[ImportedSLO], labels: list[dict[str, str]], notes: list[Note]
) -> dict[str, str]:
    """Labels all SLOs share become metadata.labels (every rule); the rest go on the SLO's
    alerts, under its own alerting.labels, which win as they do in the source."""
    common = _common(labels) if labels else {}
    for slo, own in zip(slos, labels, strict=True):
        extra = {k: v for k, v in own.items() if k not in common}
        if not extra:
            continue
        alerting = slo.data.setdefault("alerting", {})
        alerting["labels"] = {**extra, **alerting.get("labels", {})}
        notes.append(
            slo.note(
                f"on this SLO's alerts only: label(s) {', '.join(sorted(extra))} (labels on "
                "every recording rule are per spec, metadata.labels, and not every imported "
                "SLO has these)"
            )
        )
    return common


def _unique_names(slos: list[ImportedSLO], notes: list[Note]) -> None:
    seen: Counter[str] = Counter()
    taken = {s.data["name"] for s in slos}
    for slo in slos:
        name = slo.data["name"]
        seen[name] += 1
        if seen[name] == 1:
            continue
        n = seen[name]
        while (candidate := f"{k8s_name(name, spec.MAX_SLO_NAME - 3)}-{n}") in taken:
            n += 1
        taken.add(candidate)
        slo.data["name"] = candidate
        notes.append(slo.note(f"SLO name {name!r} is taken by an earlier SLO; named {candidate!r}"))


def _service_name(slos: list[ImportedSLO]) -> str:
    services = {s.data.get("service") for s in slos}
    only = services.pop() if len(services) == 1 else None
    return k8s_name(only, 63) if isinstance(only, str) else FALLBACK_NAME


def _text(head: dict[str, Any], slos: list[ImportedSLO], comment: str) -> str:
    out = [yamlout.dump(head, comment)]
    if slos:
        out.append("slos:\n")
    for slo in slos:
        where = f" {slo.path}" if slo.path != "$" else ""
        out.append(f"  # from {slo.file}:{slo.line}{where} ({slo.origin})\n")
        item = yamlout.dump([slo.data], "")
        out.append("".join(f"  {line}" if line.strip() else line for line in item.splitlines(True)))
    return "".join(out)


def assemble(
    slos: list[ImportedSLO], notes: list[Note], comment: str, name: str | None
) -> str | None:
    """The spec text of every SLO idp-slo accepts; None when none is left."""
    accepted, labels = [], []
    for slo in slos:
        own = _rule_labels(slo, notes)
        if _accepted(slo, own, notes):
            accepted.append(slo)
            labels.append(own)
    if not accepted:
        return None
    common = _spread_labels(accepted, labels, notes)
    _unique_names(accepted, notes)
    spec_name = name or _service_name(accepted)
    for slo in accepted:
        if slo.data.get("service") == spec_name:
            del slo.data["service"]  # the default: metadata.name
    text = _text(_head(spec_name, common), accepted, comment)
    _prove(text)
    return text


def _prove(text: str) -> None:
    try:
        doc = yamlsafe.loads(text, "<imported spec>", noun="spec", max_depth=spec.MAX_DEPTH)
        bundle.render(model.build(spec.parse(doc, "<imported spec>"), doc, "<imported spec>"))
    except LocatedError as exc:
        raise ImportBug(
            "the importer wrote a spec idp-slo refuses (a bug, please report it):\n"
            + "\n".join(exc.lines())
        ) from None
