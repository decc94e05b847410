"""Committing a task worktree and bringing a moved target into it, on real repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2

from leanforge.git.branchwork import bring_in_target, commit_worktree, drop_ignored, fold_in_target


def tip(root: Path, branch: str) -> pygit2.Commit:
    return pygit2.Repository(str(root)).branches.local[branch].peel(pygit2.Commit)


def test_commit_worktree_records_new_changed_and_deleted_files_but_no_bytecode(
    project: Any,
) -> None:
    wt = project.spec(holdout=False)
    project.implement(wt)
    (wt / "new.py").write_text("X = 1\n")
    (wt / "tests/conftest.py").unlink()
    (wt / "__pycache__").mkdir()
    (wt / "__pycache__/calc.cpython-311.pyc").write_bytes(b"\0")
    (wt / "stale.pyc").write_bytes(b"\0")
    before = tip(project.root, "forge/fix-add")
    head, committed = commit_worktree(wt, "forge: attempt 1\n")
    assert committed and head != str(before.id)
    commit = tip(project.root, "forge/fix-add")
    assert str(commit.id) == head and commit.parents[0].id == before.id
    tree = commit.tree
    assert "new.py" in tree and "stale.pyc" not in tree and "__pycache__" not in tree
    assert "conftest.py" not in tree["tests"].peel(pygit2.Tree)  # type: ignore[attr-defined]
    assert commit_worktree(wt, "again\n") == (head, False)
    assert pygit2.Repository(str(wt)).status() == {} or all(
        p.endswith(".pyc") for p in pygit2.Repository(str(wt)).status()
    )


def test_a_conflicting_target_leaves_markers_and_the_next_commit_is_a_merge(project: Any) -> None:
    wt = project.spec(holdout=False)
    project.write("calc.py", "def add(a, b):\n    return a * b\n", root=wt)
    commit_worktree(wt, "task side\n")
    project.write("calc.py", "def add(a, b):\n    return b - a\n")
    project.write("other.py", "Y = 2\n")
    project.commit("target side")
    target = tip(project.root, "main")
    sync = bring_in_target(pygit2.Repository(str(project.root)), wt, str(target.id))
    assert sync.conflicts == ("calc.py",)
    text = (wt / "calc.py").read_text()
    assert "<<<<<<<" in text and "a * b" in text and "b - a" in text
    assert (wt / "other.py").read_text() == "Y = 2\n"  # the clean part arrived too
    project.write("calc.py", "def add(a, b):\n    return a + b\n", root=wt)
    _, committed = commit_worktree(wt, "resolved\n", extra_parent=str(target.id))
    commit = tip(project.root, "forge/fix-add")
    assert committed and [str(p.id) for p in commit.parents][1] == str(target.id)
    assert pygit2.Repository(str(project.root)).descendant_of(commit.id, target.id)


def test_fold_in_target_merges_and_checks_out_or_says_conflict(project: Any) -> None:
    wt = project.spec(holdout=False)
    project.implement(wt)
    commit_worktree(wt, "task\n")
    project.write("docs.md", "hello\n")
    project.commit("unrelated")
    repo = pygit2.Repository(str(project.root))
    target = tip(project.root, "main")
    folded = fold_in_target(repo, wt, "forge/fix-add", str(target.id))
    assert folded is not None and (wt / "docs.md").read_text() == "hello\n"
    assert str(tip(project.root, "forge/fix-add").id) == folded
    assert pygit2.Repository(str(wt)).status() == {}
    project.write("calc.py", "def add(a, b):\n    return 0\n")
    project.commit("conflicting")
    again = fold_in_target(repo, wt, "forge/fix-add", str(tip(project.root, "main").id))
    assert again is None and str(tip(project.root, "forge/fix-add").id) == folded


def test_drop_ignored_removes_what_a_commit_would_leave_out(project: Any) -> None:
    wt = project.spec(holdout=False)
    project.write(".gitignore", "holdout/\n__pycache__/\nvendor/\n*.log\n", root=wt)
    project.write("vendor/lib/helper.py", "VALUE = 1\n", root=wt)
    project.write("run.log", "x\n", root=wt)
    project.write("kept.py", "X = 1\n", root=wt)
    removed = drop_ignored(wt)
    assert removed == ["run.log", "vendor/"]  # an ignored folder is reported once
    assert not (wt / "vendor").exists() and not (wt / "run.log").exists()
    assert (wt / "kept.py").exists() and (wt / "calc.py").exists()
    assert drop_ignored(wt) == []
