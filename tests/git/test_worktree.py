"""Task branches and worktrees made with pygit2 must look to git exactly like `git worktree add`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest

from leanforge.errors import UsageError
from leanforge.git.worktree import create_worktree, delete_branch, remove_worktree
from leanforge.state import RepoPaths, discover


def git(*args: str, cwd: Path) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.invalid"]
    return subprocess.run(
        ["git", *ident, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def make_repo(
    root: Path, files: dict[str, str], attributes: str = ""
) -> tuple[pygit2.Repository, RepoPaths]:
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    os.symlink("a.txt", root / "link.txt")
    if attributes:
        (root / ".gitattributes").write_text(attributes)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    return discover(root)


@pytest.mark.parametrize("attributes", ["", "*.txt text eol=crlf\n"])
def test_worktree_matches_the_commit_and_git_agrees(tmp_path: Path, attributes: str) -> None:
    repo, paths = make_repo(
        tmp_path / "r", {"a.txt": "one\ntwo\n", "deep/er/b.txt": "b\n"}, attributes
    )
    start = repo.head.peel(pygit2.Commit)
    path = create_worktree(repo, paths, "task", start)
    assert path == paths.worktree("task")
    assert repo.branches.local["forge/task"].target == start.id
    eol = b"\r\n" if attributes else b"\n"
    assert (path / "a.txt").read_bytes() == b"one" + eol + b"two" + eol, (
        "filters apply when attributes ask"
    )
    assert (path / "deep/er/b.txt").is_file()
    assert os.access(path / "run.sh", os.X_OK)
    assert os.readlink(path / "link.txt") == "a.txt"
    assert git("status", "--porcelain", cwd=path) == ""
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=path).strip() == "forge/task"
    assert str(path) in git("worktree", "list", cwd=paths.workdir)
    assert git("status", "--porcelain", cwd=paths.workdir) == "", "the user's checkout is untouched"


def test_refuses_an_existing_branch_or_path_and_leaves_them(tmp_path: Path) -> None:
    repo, paths = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    start = repo.head.peel(pygit2.Commit)
    repo.branches.local.create("forge/taken", start)
    with pytest.raises(UsageError, match="already exists"):
        create_worktree(repo, paths, "taken", start)
    assert "forge/taken" in repo.branches.local
    paths.worktree("squat").mkdir(parents=True)
    with pytest.raises(UsageError, match="already exists"):
        create_worktree(repo, paths, "squat", start)
    assert "forge/squat" not in repo.branches.local


def test_remove_leaves_no_trace(tmp_path: Path) -> None:
    repo, paths = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    path = create_worktree(repo, paths, "gone", repo.head.peel(pygit2.Commit))
    remove_worktree(repo, paths, "gone")
    delete_branch(repo, "gone")
    assert not path.exists()
    assert "forge/gone" not in repo.branches.local
    assert str(path) not in git("worktree", "list", cwd=paths.workdir)
    assert not (paths.common_dir / "worktrees" / "forge-gone").exists()
