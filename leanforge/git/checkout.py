"""The user's own checkout during a merge: refuse when it is unsafe, update only touched paths."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import CheckoutNotify, CheckoutStrategy, FileMode, ReferenceType

from leanforge.errors import ForgeError, MergeRefused

if TYPE_CHECKING:
    from leanforge.git.merge import MergePlan

# Literal paths (a test named `test_[x].py` is not a glob); never clobber an ignored file.
_CHECKOUT = (
    CheckoutStrategy.SAFE
    | CheckoutStrategy.DISABLE_PATHSPEC_MATCH
    | CheckoutStrategy.DONT_OVERWRITE_IGNORED
)


def head_branch(checkout: pygit2.Repository) -> str | None:
    """The ref a checkout's HEAD points to (even if unborn), or None when detached."""
    head = checkout.lookup_reference("HEAD")
    target = head.target if head.type == ReferenceType.SYMBOLIC else None
    return target if isinstance(target, str) else None


def refuse_other_checkouts(repo: pygit2.Repository, refname: str, target: str) -> None:
    """Moving a branch under a linked worktree would make all its files look reverted there."""
    for name in repo.list_worktrees():
        worktree = repo.lookup_worktree(name)
        if worktree.is_prunable or not Path(worktree.path).is_dir():
            continue
        if head_branch(pygit2.Repository(worktree.path)) == refname:
            raise MergeRefused(
                f"{target} is checked out in worktree {worktree.path}; switch it to another "
                "branch, then merge again"
            )


def already_there(main: pygit2.Repository, plan: MergePlan) -> frozenset[str]:
    """Touched paths whose file in the checkout already has the merged bytes and mode.

    The usual case on the human path: the user wrote the acceptance tests in their checkout
    and they stay there, untracked, until the merge brings the very same bytes.
    """
    workdir = Path(main.workdir or ".")
    tree = main[plan.tree].peel(pygit2.Tree)
    same = set()
    for path in plan.touched:
        try:
            entry = tree[path]
        except KeyError:
            continue
        target = workdir / path
        if (
            entry.filemode not in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE)
            or target.is_symlink()
            or not target.is_file()
        ):
            continue
        executable = bool(target.stat().st_mode & 0o100)
        if (
            executable == (entry.filemode == FileMode.BLOB_EXECUTABLE)
            and target.read_bytes() == main[entry.id].peel(pygit2.Blob).data
        ):
            same.add(path)
    return frozenset(same)


def stage(main: pygit2.Repository, paths: frozenset[str]) -> None:
    """Record files that already match the merge in the checkout's index (stat data included)."""
    if not paths:
        return
    index = main.index
    index.read()
    for path in sorted(paths):
        index.add(path)
    index.write()


def refuse_unsafe_checkout(
    main: pygit2.Repository, plan: MergePlan, already: frozenset[str]
) -> None:
    """Refuse when the user's checkout is mid-operation or has uncommitted work on a touched path."""
    if main.state() != pygit2.enums.RepositoryState.NONE:
        raise MergeRefused(
            f"your checkout of {plan.target} is in the middle of a merge, rebase or similar; "
            "finish or abort it, then merge again"
        )
    changed = [p.rstrip("/") for p in main.status(untracked_files="all", ignored=True)]
    dirty = [t for t in plan.touched if t not in already and any(_overlaps(t, c) for c in changed)]
    if dirty:
        raise MergeRefused(
            f"uncommitted changes in {', '.join(dirty)} would be overwritten by merging "
            f"{plan.branch}; commit or stash them, then merge again"
        )


def _overlaps(a: str, b: str) -> bool:
    """Same path, or one is a directory holding the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


class _Conflicts(pygit2.CheckoutCallbacks):
    """Records the paths a SAFE checkout refused to overwrite."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def checkout_notify_flags(self) -> CheckoutNotify:
        return CheckoutNotify.CONFLICT

    def checkout_notify(self, why: CheckoutNotify, path: str, *_: object) -> None:
        self.paths.append(path)


def update_checkout(main: pygit2.Repository, plan: MergePlan, paths: list[str]) -> None:
    if not paths:
        return
    conflicts = _Conflicts()
    try:
        main.checkout_tree(  # type: ignore[no-untyped-call]
            main[plan.tree].peel(pygit2.Tree),
            strategy=_CHECKOUT,
            paths=paths,
            callbacks=conflicts,
        )
    except pygit2.GitError as exc:
        if conflicts.paths:  # detected before anything was written
            raise MergeRefused(
                f"{', '.join(conflicts.paths)} changed in your checkout while merging; "
                "commit or stash, then merge again"
            ) from exc
        raise ForgeError(
            f"updating your checkout failed ({exc}); {plan.target} was not moved{restore_hint(plan)}"
        ) from exc


def restore_hint(plan: MergePlan) -> str:
    files = " ".join(shlex.quote(p) for p in plan.touched)
    return f"; to undo it run `git restore --source=HEAD --staged --worktree -- {files}`"
