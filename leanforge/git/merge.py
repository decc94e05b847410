"""Merge a task branch into its target: plan the tree in memory, then commit under the forge lock.

Planning writes only objects (blobs, trees): no MERGE_HEAD, no index file, no working tree, so a
refused merge leaves the user's repository exactly as it was. Committing checks everything first,
then updates the user's checkout (touched files only), then moves the target ref.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pygit2
from pygit2.enums import FileMode

from leanforge.errors import ForgeError, MergeRefused, TargetMoved
from leanforge.git import checkout
from leanforge.git.commits import signature as default_signature
from leanforge.state import RepoPaths, forge_lock

_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


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


def plan_update(
    repo: pygit2.Repository, *, target: str, files: Mapping[str, bytes], label: str
) -> MergePlan:
    """A plan for an ordinary commit on ``target`` that writes ``files`` (e.g. the playbook).

    ``label`` names the change in refusals; commit it with ``commit_merge(..., merge=False)``.
    """
    target_old = _tip(repo, target)
    tree = _apply_overlay(repo, _commit(repo, target_old).tree_id, files)
    old_tree = _commit(repo, target_old).tree
    touched: set[str] = set()
    for delta in old_tree.diff_to_tree(_tree(repo, tree)).deltas:
        touched.update((delta.old_file.path, delta.new_file.path))
    return MergePlan(target, label, target_old, target_old, tree, False, tuple(sorted(touched)))


def commit_merge(
    repo: pygit2.Repository,
    paths: RepoPaths,
    plan: MergePlan,
    *,
    message: str,
    trailers: Mapping[str, str],
    signature: pygit2.Signature | None = None,
    merge: bool = True,
) -> pygit2.Oid:
    """Commit ``plan`` as a merge on its target and move the target ref; return the commit id.

    Refuses (changing nothing) if the target moved since planning, if the target is checked out
    in another worktree, or if the user's main checkout is on the target with any touched path
    dirty. A user's unrelated uncommitted work is kept: only touched paths are checked out.
    """
    refname = f"refs/heads/{plan.target}"
    text = format_message(message, trailers)
    with forge_lock(paths):
        ref = repo.lookup_reference(refname)
        if ref.target != plan.target_old:
            raise TargetMoved(f"{plan.target} moved while merging; plan the merge again")
        main = pygit2.Repository(str(paths.workdir))
        on_target = checkout.head_branch(main) == refname
        checkout.refuse_other_checkouts(repo, refname, plan.target)
        already = checkout.already_there(main, plan) if on_target else frozenset()
        if on_target:
            checkout.refuse_unsafe_checkout(main, plan, already)
        who = signature or default_signature(repo)
        parents = [plan.target_old, plan.branch_head] if merge else [plan.target_old]
        commit = repo.create_commit(None, who, who, text, plan.tree, parents)
        # libgit2 diffs a checkout against HEAD, so the checkout must run while HEAD still names
        # target_old (pygit2 cannot pass another baseline); SAFE aborts before writing on conflict.
        if on_target and plan.touched:
            checkout.update_checkout(main, plan, [p for p in plan.touched if p not in already])
            checkout.stage(main, already)
        try:
            # set_target is compare-and-swap against the value read above.
            ref.set_target(commit, f"forge: merge {plan.branch} into {plan.target}")
        except pygit2.GitError as exc:
            done = f"; your checkout already shows the merge{checkout.restore_hint(plan)}"
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


def format_message(message: str, trailers: Mapping[str, str]) -> str:
    """Message, a blank line, then one ``Key: value`` trailer per line in the given order.

    Raises ValueError for a key that is not a trailer token or a value with a line break.
    """
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key) or "\n" in value or "\r" in value:
            raise ValueError(f"invalid trailer {key!r}: {value!r}")
    body = message.strip()
    lines = "\n".join(f"{key}: {value}" for key, value in trailers.items())
    return f"{body}\n\n{lines}\n" if lines else f"{body}\n"
