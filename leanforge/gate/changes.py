"""What the engineer changed: base commit -> worktree, committed or not, ignored files included."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
from pygit2.enums import FileStatus

from leanforge.gate.scan import ChangedFile

#: Ignored directories (a .venv, caches) can be huge; scan at most this many entries in them.
IGNORED_WALK_LIMIT = 5000
_INTERESTING_IGNORED = (".pth", ".pyc", "sitecustomize.py", "usercustomize.py", "conftest.py")


def blob_bytes(tree: pygit2.Tree, path: str) -> bytes | None:
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None


def _disk_bytes(root: Path, path: str) -> bytes | None:
    target = root / path
    if target.is_symlink():
        return os.readlink(target).encode()
    try:
        return target.read_bytes() if target.is_file() else None
    except OSError:
        return None


def _ignored_files(root: Path, entry: str) -> list[str]:
    """Files of interest under an ignored path (libgit2 reports ignored dirs without recursing)."""
    start = root / entry
    if not start.is_dir() or start.is_symlink():
        return [entry.rstrip("/")]
    found, seen = [], 0
    for dirpath, dirnames, filenames in os.walk(start):
        seen += len(dirnames) + len(filenames)
        for name in filenames:
            if name.endswith(_INTERESTING_IGNORED) or (
                name.startswith("python") and Path(dirpath).name == "bin"
            ):
                found.append(Path(dirpath, name).relative_to(root).as_posix())
        if seen > IGNORED_WALK_LIMIT:
            break
    return found


def worktree_changes(worktree: Path, base: pygit2.Commit) -> list[ChangedFile]:
    """Every path that differs between ``base`` and the worktree's files on disk."""
    repo = pygit2.Repository(str(worktree))
    paths: set[str] = set()
    if not repo.head_is_unborn:
        head = repo.head.peel(pygit2.Commit)
        for delta in repo.diff(base, head).deltas:
            paths.update({delta.old_file.path, delta.new_file.path})
    for path, flags in repo.status(untracked_files="all", ignored=True).items():
        if flags & FileStatus.IGNORED:
            paths.update(_ignored_files(worktree, path))
        elif flags != FileStatus.CURRENT:
            paths.add(path)
    changes = []
    for path in sorted(paths):
        old, new = blob_bytes(base.tree, path), _disk_bytes(worktree, path)
        if old != new:
            changes.append(ChangedFile(path=path, old=old, new=new))
    return changes
