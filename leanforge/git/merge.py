"""Merge a task branch into its target: plan the tree in memory, then commit under the forge lock.

Planning writes only objects (blobs, trees): no MERGE_HEAD, no index file, no working tree, so a
refused merge leaves the user's repository exactly as it was. Committing checks everything first,
then updates the user's checkout (touched files only), then moves the target ref.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pygit2
from pygit2.enums import CheckoutNotify, CheckoutStrategy, FileMode, ReferenceType

from leanforge.errors import ForgeError, MergeRefused
from leanforge.state import RepoPaths, forge_lock

FALLBACK_SIGNATURE = ("leanforge", "forge@localhost")
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
# Literal paths (a test named `test_[x].py` is not a glob); never clobber an ignored file.
_CHECKOUT = (
    CheckoutStrategy.SAFE
    | CheckoutStrategy.DISABLE_PATHSPEC_MATCH
    | CheckoutStrategy.DONT_OVERWRITE_IGNORED
)


@dataclass(frozen=True)
class MergePlan:
    """What a merge would commit, computed without touching any checkout."""

    target: str
    branch: str
    target_old: pygit2.Oid
    branch_head: pygit2.Oid
    tree: pygit2.Oid
    #: The target moved since the branch forked: ``tree`` was merged in memory and must be re-gated.
    moved: bool
    #: Paths whose content or mode differs between the target's tree and ``tree``.
    touched: tuple[str, ...]


def plan_merge(
    repo: pygit2.Repository, *, target: str, branch: str, overlay: Mapping[str, bytes]
) -> MergePlan:
    """Compute the tree a merge of ``branch`` into ``target`` would commit, plus ``overlay``.

    ``overlay`` maps repo-relative paths to bytes that must land verbatim (the task's spec and its
    pristine visible tests), so an engineer's edited copy of a locked test never reaches the target.
    """
    target_old = _tip(repo, target)
    branch_head = _tip(repo, branch)
    if branch_head == target_old or repo.descendant_of(target_old, branch_head):
        raise MergeRefused(f"{branch} has no commits that {target} lacks; nothing to merge")
    moved = not repo.descendant_of(branch_head, target_old)
    if moved:
        index = repo.merge_commits(target_old, branch_head)
        if index.conflicts is not None:
            names = sorted(
                {e.path for entries in index.conflicts for e in entries if e is not None}
            )
            raise MergeRefused(
                f"{target} moved and now conflicts with {branch} in {', '.join(names)}; "
                f"rebuild the task on the new {target}"
            )
        base = index.write_tree(repo)
    else:
        base = _commit(repo, branch_head).tree_id
    tree = _apply_overlay(repo, base, overlay)
    old_tree = _commit(repo, target_old).tree
    paths: set[str] = set()
    for delta in old_tree.diff_to_tree(_tree(repo, tree)).deltas:
        paths.update((delta.old_file.path, delta.new_file.path))
    return MergePlan(target, branch, target_old, branch_head, tree, moved, tuple(sorted(paths)))


def commit_merge(
    repo: pygit2.Repository,
    paths: RepoPaths,
    plan: MergePlan,
    *,
    message: str,
    trailers: Mapping[str, str],
    signature: pygit2.Signature | None = None,
) -> pygit2.Oid:
    """Commit ``plan`` as a merge on its target and move the target ref; return the commit id.

    Refuses (changing nothing) if the target moved since planning, if the target is checked out
    in another worktree, or if the user's main checkout is on the target with any touched path
    dirty. A user's unrelated uncommitted work is kept: only touched paths are checked out.
    """
    refname = f"refs/heads/{plan.target}"
    text = _format_message(message, trailers)
    with forge_lock(paths):
        ref = repo.lookup_reference(refname)
        if ref.target != plan.target_old:
            raise MergeRefused(f"{plan.target} moved while merging; plan the merge again")
        main = pygit2.Repository(str(paths.workdir))
        on_target = _head_branch(main) == refname
        _refuse_other_checkouts(repo, refname, plan.target)
        if on_target:
            _refuse_unsafe_checkout(main, plan)
        who = signature or _default_signature(repo)
        commit = repo.create_commit(
            None, who, who, text, plan.tree, [plan.target_old, plan.branch_head]
        )
        # libgit2 diffs a checkout against HEAD, so the checkout must run while HEAD still names
        # target_old (pygit2 cannot pass another baseline); SAFE aborts before writing on conflict.
        if on_target and plan.touched:
            _checkout(main, plan)
        try:
            # set_target is compare-and-swap against the value read above.
            ref.set_target(commit, f"forge: merge {plan.branch} into {plan.target}")
        except pygit2.GitError as exc:
            done = f"; your checkout already shows the merge{_restore_hint(plan)}"
            raise ForgeError(
                f"could not move {plan.target} ({exc}); the merge was not recorded"
                + (done if on_target and plan.touched else "")
            ) from exc
    return commit


def export_tree(repo: pygit2.Repository, tree_oid: pygit2.Oid, dest: Path) -> None:
    """Write a tree's files into the empty directory ``dest``, keeping exec bits and symlinks.

    Lets the pipeline re-gate a merged tree that exists only as objects. Gitlinks (submodules)
    become empty directories, as in a fresh clone.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise ValueError(f"{dest} is not empty")
    _export(repo, _tree(repo, tree_oid), dest)


def _export(repo: pygit2.Repository, tree: pygit2.Tree, dest: Path) -> None:
    for entry in tree:
        name = entry.name or ""
        if name in ("", ".", "..") or "/" in name or "\0" in name or name.lower() == ".git":
            raise ValueError(f"refusing to export tree entry {name!r} into {dest}")
        path = dest / name
        mode = entry.filemode
        if mode == FileMode.TREE:
            path.mkdir()
            _export(repo, _tree(repo, entry.id), path)
        elif mode == FileMode.COMMIT:
            path.mkdir()
        elif mode == FileMode.LINK:
            os.symlink(os.fsdecode(_blob(repo, entry.id)), path)
        else:
            perm = 0o755 if mode == FileMode.BLOB_EXECUTABLE else 0o644
            # O_EXCL|O_NOFOLLOW: a crafted tree cannot make us write through a symlink we made.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_blob(repo, entry.id))
            os.chmod(path, perm)  # the umask may have narrowed it


def _tip(repo: pygit2.Repository, name: str) -> pygit2.Oid:
    branch = repo.branches.local.get(name)
    if branch is None:
        raise MergeRefused(f"no local branch {name!r}; check the task's target and branch")
    return branch.peel(pygit2.Commit).id


def _commit(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Commit:
    return repo[oid].peel(pygit2.Commit)


def _tree(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    return repo[oid].peel(pygit2.Tree)


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> bytes:
    return repo[oid].peel(pygit2.Blob).data


def _apply_overlay(
    repo: pygit2.Repository, base: pygit2.Oid, overlay: Mapping[str, bytes]
) -> pygit2.Oid:
    """Return ``base`` with each overlay path set to its bytes, via an index that lives in memory."""
    if not overlay:
        return base
    index = pygit2.Index()
    index.read_tree(_tree(repo, base))
    for path, data in overlay.items():
        _check_repo_path(path)
        index.add(pygit2.IndexEntry(path, repo.create_blob(data), FileMode.BLOB))
    return index.write_tree(repo)


def _check_repo_path(path: str) -> None:
    # PurePosixPath drops "." and "//" and keeps a leading "/", so a clean path round-trips.
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path != "/".join(parts)
        or path.startswith("/")
        or "\\" in path
        or "\0" in path
        or any(part in ("", "..") or part.lower() == ".git" for part in parts)
    ):
        raise ValueError(f"overlay path {path!r} is not a clean repo-relative path")


def _format_message(message: str, trailers: Mapping[str, str]) -> str:
    """Message, a blank line, then one ``Key: value`` trailer per line in the given order."""
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key) or "\n" in value or "\r" in value:
            raise ValueError(f"invalid trailer {key!r}: {value!r}")
    body = message.strip()
    lines = "\n".join(f"{key}: {value}" for key, value in trailers.items())
    return f"{body}\n\n{lines}\n" if lines else f"{body}\n"


def _default_signature(repo: pygit2.Repository) -> pygit2.Signature:
    try:
        return repo.default_signature
    except KeyError:  # no user.name/user.email configured anywhere
        return pygit2.Signature(*FALLBACK_SIGNATURE)


def _head_branch(checkout: pygit2.Repository) -> str | None:
    """The ref a checkout's HEAD points to (even if unborn), or None when detached."""
    head = checkout.lookup_reference("HEAD")
    target = head.target if head.type == ReferenceType.SYMBOLIC else None
    return target if isinstance(target, str) else None


def _refuse_other_checkouts(repo: pygit2.Repository, refname: str, target: str) -> None:
    """Moving a branch under a linked worktree would make all its files look reverted there."""
    for name in repo.list_worktrees():
        worktree = repo.lookup_worktree(name)
        if worktree.is_prunable or not Path(worktree.path).is_dir():
            continue
        if _head_branch(pygit2.Repository(worktree.path)) == refname:
            raise MergeRefused(
                f"{target} is checked out in worktree {worktree.path}; switch it to another "
                "branch, then merge again"
            )


def _refuse_unsafe_checkout(main: pygit2.Repository, plan: MergePlan) -> None:
    """Refuse when the user's checkout is mid-operation or has uncommitted work on a touched path."""
    if main.state() != pygit2.enums.RepositoryState.NONE:
        raise MergeRefused(
            f"your checkout of {plan.target} is in the middle of a merge, rebase or similar; "
            "finish or abort it, then merge again"
        )
    changed = [p.rstrip("/") for p in main.status(untracked_files="all", ignored=True)]
    dirty = [t for t in plan.touched if any(_overlaps(t, c) for c in changed)]
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


def _checkout(main: pygit2.Repository, plan: MergePlan) -> None:
    conflicts = _Conflicts()
    try:
        main.checkout_tree(  # type: ignore[no-untyped-call]
            _tree(main, plan.tree),
            strategy=_CHECKOUT,
            paths=list(plan.touched),
            callbacks=conflicts,
        )
    except pygit2.GitError as exc:
        if conflicts.paths:  # detected before anything was written
            raise MergeRefused(
                f"{', '.join(conflicts.paths)} changed in your checkout while merging; "
                "commit or stash, then merge again"
            ) from exc
        raise ForgeError(
            f"updating your checkout failed ({exc}); {plan.target} was not moved{_restore_hint(plan)}"
        ) from exc


def _restore_hint(plan: MergePlan) -> str:
    files = " ".join(shlex.quote(p) for p in plan.touched)
    return f"; to undo it run `git restore --source=HEAD --staged --worktree -- {files}`"
