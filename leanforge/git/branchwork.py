"""A task branch and its worktree during a build: commit the engineer's work, bring the target in.

The engineer's sandbox shows the repository's objects read-only, so it cannot commit; forge
commits the worktree after each engineer session. When the target branch moved, forge merges it
into the task branch: cleanly before a re-gate, or with conflict markers for the engineer to
resolve in the next attempt.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, FileStatus

from leanforge.git.commits import signature

#: Bytecode never belongs in a commit, even where the project's .gitignore forgets it.
_NEVER = ("__pycache__",)
_DELETED = FileStatus.WT_DELETED | FileStatus.INDEX_DELETED
_IGNORED = FileStatus.IGNORED | FileStatus.CURRENT


def _skip(path: str) -> bool:
    return path.endswith((".pyc", ".pyo")) or any(p in _NEVER for p in path.split("/"))


def commit_worktree(worktree: Path, message: str, extra_parent: str = "") -> tuple[str, bool]:
    """Commit every change in ``worktree`` on its branch; return (head commit id, committed?).

    ``extra_parent`` (a target commit already merged into the files) makes the commit a merge.
    Nothing is committed when nothing changed and there is no extra parent.
    """
    repo = pygit2.Repository(str(worktree))
    head = repo.head.peel(pygit2.Commit)
    index = repo.index
    index.read()
    for path, flags in repo.status(untracked_files="all").items():
        if flags & _IGNORED == flags or _skip(path):
            continue
        if flags & _DELETED or (
            not (worktree / path).exists() and not (worktree / path).is_symlink()
        ):
            if path in index:
                index.remove(path)
        else:
            index.add(path)
    tree = index.write_tree()
    if tree == head.tree_id and not extra_parent:
        return str(head.id), False
    index.write()
    who = signature(repo)
    parents = [head.id, *([pygit2.Oid(hex=extra_parent)] if extra_parent else [])]
    oid = repo.create_commit("HEAD", who, who, message, tree, parents)
    return str(oid), True


def drop_ignored(worktree: Path) -> list[str]:
    """Delete the worktree's untracked ignored files; return their paths.

    A commit leaves ignored files out, so the gate must not see them either: code that passes
    only thanks to an ignored ``vendor/`` folder would merge broken.
    """
    repo = pygit2.Repository(str(worktree))
    removed = []
    for path, flags in repo.status(untracked_files="all", ignored=True).items():
        if not flags & FileStatus.IGNORED:
            continue
        target = worktree / path
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        else:
            continue
        if not _skip(path):
            removed.append(path)
    for folder in sorted({p.parent for p in map(Path, removed)}, key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            while folder != Path(".") and not any((worktree / folder).iterdir()):
                (worktree / folder).rmdir()
                folder = folder.parent
    return sorted(removed)


@dataclass(frozen=True)
class Sync:
    """The target merged into a task worktree: the target commit and the paths left in conflict."""

    target_commit: str
    conflicts: tuple[str, ...]


def bring_in_target(repo: pygit2.Repository, worktree: Path, target_commit: str) -> Sync:
    """Write the merge of ``target_commit`` into the worktree's files, conflict markers included.

    The branch does not move: the next ``commit_worktree(..., extra_parent=target_commit)``
    records the merge once the engineer has resolved the markers.
    """
    wt = pygit2.Repository(str(worktree))
    head = wt.head.peel(pygit2.Commit)
    theirs = pygit2.Oid(hex=target_commit)
    merged = wt.merge_commits(head.id, theirs)
    conflicts: list[str] = []
    conflicted: set[str] = set()
    if merged.conflicts is not None:
        for ancestor, ours, theirs_entry in merged.conflicts:
            path = next(e.path for e in (ours, theirs_entry, ancestor) if e is not None)
            conflicted.add(path)
            conflicts.append(path)
            result = wt.merge_file_from_index(ancestor, ours, theirs_entry)
            text = result if isinstance(result, str) else result.contents
            _write(worktree / path, text.encode())
    current = {e.path: e.id for e in _entries(wt, head.tree)}
    wanted = {e.path: e.id for e in merged if e.path not in conflicted}
    for path, oid in wanted.items():
        if current.get(path) != oid:
            _write(worktree / path, wt[oid].peel(pygit2.Blob).data)
    for path in current.keys() - wanted.keys() - conflicted:
        (worktree / path).unlink(missing_ok=True)
    return Sync(target_commit, tuple(sorted(conflicts)))


def fold_in_target(
    repo: pygit2.Repository, worktree: Path, branch: str, target_commit: str
) -> str | None:
    """Merge ``target_commit`` into the task branch as a commit and check it out; None on conflict.

    Used before a re-gate: the worktree must hold no uncommitted work (forge committed it).
    """
    tip = repo.branches.local[branch].peel(pygit2.Commit)
    theirs = pygit2.Oid(hex=target_commit)
    index = repo.merge_commits(tip.id, theirs)
    if index.conflicts is not None:
        return None
    tree = index.write_tree(repo)
    who = signature(repo)
    message = f"forge: merge {target_commit[:12]} of the target into {branch}\n"
    oid = repo.create_commit(None, who, who, message, tree, [tip.id, theirs])
    wt = pygit2.Repository(str(worktree))
    # Check out while HEAD still names the old tip, so libgit2 also removes deleted files.
    wt.checkout_tree(wt[tree].peel(pygit2.Tree), strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]
    repo.branches.local[branch].set_target(oid, f"forge: fold {target_commit[:12]} into {branch}")
    wt.index.read()
    wt.index.read_tree(wt[tree].peel(pygit2.Tree))
    wt.index.write()
    return str(oid)


def _entries(repo: pygit2.Repository, tree: pygit2.Tree) -> list[pygit2.IndexEntry]:
    index = pygit2.Index()
    index.read_tree(tree)
    return list(index)


def _write(path: Path, data: bytes) -> None:
    if path.is_symlink():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
