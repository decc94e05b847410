"""Task branches and their worktrees, created and removed with pygit2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy

from leanforge.errors import UsageError
from leanforge.state import RepoPaths

BRANCH_PREFIX = "forge/"
WORKTREE_PREFIX = "forge-"


def branch_name(slug: str) -> str:
    return f"{BRANCH_PREFIX}{slug}"


def worktree_name(slug: str) -> str:
    return f"{WORKTREE_PREFIX}{slug}"


def resolve_branch(repo: pygit2.Repository, name: str | None) -> tuple[str, pygit2.Commit]:
    """Return (branch name, tip commit) for ``name``, or for the checked-out branch if None."""
    if not name:
        if repo.head_is_detached:
            raise UsageError(
                "HEAD is detached; pass --base BRANCH to say which branch the task starts from"
            )
        name = repo.head.shorthand
    branch = repo.branches.local.get(name)
    if branch is None:
        raise UsageError(f"no local branch named {name!r}; pass --base with an existing branch")
    return name, branch.peel(pygit2.Commit)


def create_worktree(
    repo: pygit2.Repository, paths: RepoPaths, slug: str, start: pygit2.Commit
) -> Path:
    """Create branch ``forge/<slug>`` at ``start`` and check it out in its own worktree.

    pygit2's ``add_worktree`` checks out with libgit2's defaults, which look up attributes for
    every file (a realpath per path). So the worktree is added on an empty commit, which is
    instant, and then filled by one checkout that skips filters when none can apply.
    """
    name = branch_name(slug)
    if repo.branches.local.get(name) is not None:
        raise UsageError(f"branch {name} already exists; pick another slug or delete the branch")
    path = paths.worktree(slug)
    if path.exists():
        raise UsageError(f"{path} already exists; run `forge clean {slug} --force` or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    branch = repo.branches.local.create(name, repo[_empty_commit(repo)].peel(pygit2.Commit))
    try:
        repo.add_worktree(worktree_name(slug), str(path), branch)
        # Check out while HEAD is still the empty seed, so libgit2's baseline is empty and it
        # only writes files; then move the branch to the start commit the files now match.
        _checkout(
            pygit2.Repository(str(path)), start.tree, filters=_filters_may_apply(repo, start.tree)
        )
        branch.set_target(start.id, f"branch: forge task {slug} from {str(start.id)[:12]}")
    except BaseException:
        remove_worktree(repo, paths, slug)
        delete_branch(repo, slug)
        raise
    return path


def _empty_commit(repo: pygit2.Repository) -> pygit2.Oid:
    """A fixed parentless commit of the empty tree (same id every time, written once)."""
    sig = pygit2.Signature("forge", "forge@localhost", 0, 0)
    empty = repo.TreeBuilder().write()
    oid: pygit2.Oid = repo.create_commit(None, sig, sig, "forge: empty worktree seed\n", empty, [])
    return oid


def _filters_may_apply(repo: pygit2.Repository, tree: pygit2.Tree) -> bool:
    """Could any checkout filter (eol, ident, filter drivers) change a file's bytes?"""
    config = repo.config
    for key in ("core.autocrlf", "core.eol", "core.attributesFile"):
        if key in config and str(config[key]).lower() not in (
            "false",
            "lf",
            "input" if key != "core.autocrlf" else "false",
        ):
            return True
    if (Path(repo.path) / "info" / "attributes").exists():
        return True
    if (Path.home() / ".config" / "git" / "attributes").exists():
        return True
    return _has_gitattributes(repo, tree)


def _has_gitattributes(repo: pygit2.Repository, tree: pygit2.Tree) -> bool:
    stack = [tree]
    while stack:
        current = stack.pop()
        for entry in current:
            if entry.name == ".gitattributes":
                return True
            if entry.type_str == "tree":
                stack.append(repo[entry.id].peel(pygit2.Tree))
    return False


def _checkout(wt_repo: pygit2.Repository, tree: pygit2.Tree, *, filters: bool) -> None:
    """Check ``tree`` out into the (empty) worktree, its index included."""
    tree = wt_repo[tree.id].peel(pygit2.Tree)  # it must belong to the repository checking out
    # NO_REFRESH: the worktree is brand new, there is no index or config state to re-read.
    strategy = CheckoutStrategy.FORCE | CheckoutStrategy.NO_REFRESH
    if filters:
        wt_repo.checkout_tree(tree, strategy=strategy)  # type: ignore[no-untyped-call]
        return
    try:
        from pygit2 import ffi
        from pygit2.callbacks import git_checkout_options
        from pygit2.ffi import C
    except ImportError:  # pragma: no cover - older or newer pygit2 without these internals
        wt_repo.checkout_tree(tree, strategy=strategy)  # type: ignore[no-untyped-call]
        return
    with git_checkout_options(strategy=strategy) as payload:
        payload.checkout_options.disable_filters = 1
        pointer = ffi.new("git_object **")
        ffi.buffer(pointer)[:] = tree._pointer[:]
        payload.check_error(
            C.git_checkout_tree(wt_repo._repo, pointer[0], payload.checkout_options)
        )


def remove_worktree(repo: pygit2.Repository, paths: RepoPaths, slug: str) -> None:
    """Remove the task's worktree directory and its git administrative entry, if present."""
    path = paths.worktree(slug)
    if path.exists():
        shutil.rmtree(path)
    name = worktree_name(slug)
    if name in repo.list_worktrees():
        repo.lookup_worktree(name).prune(True)
    admin = paths.common_dir / "worktrees" / name
    if admin.exists():
        shutil.rmtree(admin)


def delete_branch(repo: pygit2.Repository, slug: str) -> None:
    name = branch_name(slug)
    if repo.branches.local.get(name) is not None:
        repo.branches.local.delete(name)


def discard_worktree(repo: pygit2.Repository, paths: RepoPaths, slug: str) -> None:
    """Remove ``slug``'s worktree and delete its branch, whichever of them exist."""
    remove_worktree(repo, paths, slug)
    delete_branch(repo, slug)


def recreate_worktree(repo: pygit2.Repository, paths: RepoPaths, slug: str, commit: str) -> Path:
    """A fresh worktree for ``slug`` at ``commit``, replacing any a killed run left behind."""
    discard_worktree(repo, paths, slug)
    start = repo[pygit2.Oid(hex=commit)].peel(pygit2.Commit)
    return create_worktree(repo, paths, slug, start)
