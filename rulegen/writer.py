"""The only module that writes files: all-or-nothing, atomic per file, deterministic.

Every file is first written to a temporary sibling; only when all of them exist are they
renamed into place, so a failure part-way leaves the previous bundle untouched.
Unchanged files are not rewritten (their mtime stays, `make` stays quiet).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def stale(root: Path, files: dict[str, str]) -> dict[str, str | None]:
    """Files whose content on disk differs: relative path -> current content (None: missing)."""
    out = {}
    for rel, text in sorted(files.items()):
        current = _current(root / rel)
        if current != text:
            out[rel] = current
    return out


def diff(root: Path, files: dict[str, str]) -> str:
    """Unified diff from what is on disk to what would be written."""
    chunks: list[str] = []
    for rel, current in stale(root, files).items():
        chunks.extend(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                files[rel].splitlines(keepends=True),
                fromfile=f"a/{rel}" if current is not None else "/dev/null",
                tofile=f"b/{rel}",
            )
        )
    return "".join(chunks)


def write(root: Path, files: dict[str, str]) -> list[str]:
    """Write changed files atomically; return the relative paths written."""
    changed = stale(root, files)
    staged: list[tuple[str, Path]] = []
    try:
        for rel in changed:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(files[rel])
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return list(changed)
