"""The only module that writes files: all-or-nothing, deterministic, and it cleans up.

A render is one transaction over the bundle root:
1. stage: every changed file is written to a temporary sibling (same directory, so the
   switch is a rename on one filesystem); nothing visible has changed yet;
2. back up: every file about to be replaced or removed gets a hard link beside it;
3. switch: renames into place, then removals of files generated before and no longer
   generated (a dashboard dropped from the spec);
4. on any failure in 2 or 3, roll back: restore every backup, delete every new file, so
   the previous bundle is what remains; then clean up temporaries and backups.

What was generated is recorded in MANIFEST at the root (dashboards' JSON has no room for
a "generated" header, so the header alone cannot say which files are ours). Only paths
listed there are ever removed, and only inside the root. A crash of the machine between
two renames can still leave a mix (no filesystem renames several files at once); a
failing rename cannot. Unchanged files are not rewritten (their mtime stays).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rulegen.naming import HEADER

MANIFEST = ".idp-rulegen-manifest"
_MANIFEST_NOTE = (
    "# The files idp-rulegen generated here; a render removes those it no longer generates.\n"
)


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def manifest_text(files: dict[str, str]) -> str:
    return HEADER + _MANIFEST_NOTE + "".join(f"{rel}\n" for rel in sorted(files))


def _listed(root: Path) -> list[str]:
    """Paths the previous render generated; anything that could leave the root is ignored."""
    text = _current(root / MANIFEST) or ""
    out = []
    for line in text.splitlines():
        rel = PurePosixPath(line)
        if line and not line.startswith("#") and not rel.is_absolute() and ".." not in rel.parts:
            out.append(str(rel))
    return out


@dataclass(frozen=True)
class Plan:
    """What a render would do: files to write (current content, None if missing) and
    files generated before that are no longer generated (current content)."""

    changed: dict[str, str | None]
    removed: dict[str, str]


def plan(root: Path, files: dict[str, str]) -> Plan:
    full = {**files, MANIFEST: manifest_text(files)}
    changed = {}
    # The manifest last: in a diff it is bookkeeping, in a write the final rename.
    for rel, text in sorted(full.items(), key=lambda item: (item[0] == MANIFEST, item[0])):
        current = _current(root / rel)
        if current != text:
            changed[rel] = current
    removed = {}
    for rel in sorted(set(_listed(root)) - full.keys()):
        path = root / rel
        if path.is_file() and not path.is_symlink():
            removed[rel] = path.read_text(encoding="utf-8", errors="replace")
    return Plan(changed, removed)


def stale(root: Path, files: dict[str, str]) -> dict[str, str | None]:
    """Files whose content on disk differs: relative path -> current content (None: missing)."""
    return plan(root, files).changed


def diff(root: Path, files: dict[str, str]) -> str:
    """Unified diff from what is on disk to what a render would leave there."""
    p = plan(root, files)
    full = {**files, MANIFEST: manifest_text(files)}
    chunks: list[str] = []
    for rel, current in p.changed.items():
        chunks.extend(
            difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                full[rel].splitlines(keepends=True),
                fromfile=f"a/{rel}" if current is not None else "/dev/null",
                tofile=f"b/{rel}",
            )
        )
    for rel, current in p.removed.items():
        chunks.extend(
            difflib.unified_diff(
                current.splitlines(keepends=True), [], fromfile=f"a/{rel}", tofile="/dev/null"
            )
        )
    return "".join(chunks)


@dataclass(frozen=True)
class Written:
    written: list[str]  # relative paths, the manifest included
    removed: list[str]


def write(root: Path, files: dict[str, str]) -> Written:
    """Make the bundle on disk exactly `files` (plus the manifest), or leave it as it was."""
    p = plan(root, files)
    full = {**files, MANIFEST: manifest_text(files)}
    tx = _Transaction(root)
    try:
        for rel in p.changed:
            tx.stage(rel, full[rel])
        tx.switch(list(p.removed))
    except BaseException:
        tx.roll_back()
        raise
    finally:
        tx.clean_up()
    return Written(list(p.changed), list(p.removed))


class _Transaction:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.staged: list[tuple[Path, Path]] = []  # (temporary, target)
        self.backups: dict[Path, Path] = {}  # target -> its hard-linked copy
        self.placed: list[Path] = []  # targets renamed into place or removed, in order
        self.made: list[Path] = []  # directories this render created

    def stage(self, rel: str, text: str) -> None:
        target = self.root / rel
        self._mkdir(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self.staged.append((Path(tmp), target))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)

    def switch(self, removed: list[str]) -> None:
        doomed = [self.root / rel for rel in removed]
        for target in [t for _, t in self.staged] + doomed:
            if target.exists():
                self.backups[target] = self._backup(target)
        for tmp, target in self.staged:
            os.replace(tmp, target)
            self.placed.append(target)
        for target in doomed:
            target.unlink()
            self.placed.append(target)
        for target in doomed:
            self._prune(target.parent)

    def roll_back(self) -> None:
        for target in reversed(self.placed):
            backup = self.backups.pop(target, None)
            with contextlib.suppress(OSError):  # best effort: restore all that can be
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink()
        for directory in reversed(self.made):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if empty again

    def clean_up(self) -> None:
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        for backup in self.backups.values():
            backup.unlink(missing_ok=True)

    def _mkdir(self, directory: Path) -> None:
        missing = [d for d in (directory, *directory.parents) if not d.exists()]
        directory.mkdir(parents=True, exist_ok=True)
        self.made.extend(reversed(missing))

    @staticmethod
    def _backup(target: Path) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".bak", dir=target.parent)
        os.close(fd)
        backup = Path(name)
        backup.unlink()
        try:
            os.link(target, backup)
        except OSError:  # no hard links on this filesystem: a copy does as well
            shutil.copy2(target, backup)
        return backup

    def _prune(self, directory: Path) -> None:
        """Remove directories a removal left empty, up to (not including) the root."""
        root = self.root.resolve()
        while directory.resolve() != root and root in directory.resolve().parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent
