"""Importers: other tools' SLO files -> one idp-slo spec (docs/import.md).

Each format is a pure function from located input documents to converted SLOs plus
located notes; output.assemble turns them into spec text the real model accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rulegen.importers import openslo, output, sloth, source
from rulegen.importers.output import ImportBug, ImportedSLO
from rulegen.importers.source import Note, Source

Converter = Callable[[list[Source], list[Note]], list[ImportedSLO]]

FORMATS: dict[str, Converter] = {"sloth": sloth.convert, "openslo": openslo.convert}

__all__ = ["FORMATS", "ImportBug", "Result", "run"]


@dataclass(frozen=True)
class Result:
    text: str | None  # None: nothing could be converted
    notes: tuple[Note, ...]


def run(fmt: str, paths: Sequence[Path], name: str | None = None) -> Result:
    notes: list[Note] = []
    sources = source.load(paths, notes)
    slos = FORMATS[fmt](sources, notes)
    files = ", ".join(str(p) for p in paths)
    comment = (
        f"# Imported by `idp-rulegen import {fmt}` from {files}.\n"
        "# Yours to edit: what could not be imported was reported when this was written.\n"
    )
    text = output.assemble(slos, notes, comment, name)
    return Result(text, tuple(sorted(set(notes))))
