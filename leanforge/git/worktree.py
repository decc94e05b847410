"""Task branches and their worktrees, created and removed with pygit2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pygit2

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
    """Create branch ``forge/<slug>`` at ``start`` and check it out in its own worktree."""
    name = branch_name(slug)
    if repo.branches.local.get(name) is not None:
        raise UsageError(f"branch {name} already exists; pick another slug or delete the branch")
    path = paths.worktree(slug)
    if path.exists():
        raise UsageError(f"{path} already exists; run `forge clean {slug} --force` or remove it")
    path.parent.mkdir(parents=True, exist_ok=True)
    branch = repo.branches.local.create(name, start)
    try:
        repo.add_worktree(worktree_name(slug), str(path), branch)
    except BaseException:
        remove_worktree(repo, paths, slug)
        repo.branches.local.delete(name)
        raise
    return path


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
