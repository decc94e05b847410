"""The merge machinery on a real forge task: the ratchet brings the pristine tests and spec home."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pygit2

from leanforge import lock
from leanforge.git.merge import commit_merge, plan_merge
from leanforge.state import discover
from leanforge.store import TaskStore


def test_a_gated_task_merges_with_trailers_pristine_tests_and_spec(project: Any) -> None:
    worktree = project.spec("ship")
    project.implement(worktree)
    project.commit("implement add", cwd=worktree)
    # The engineer also leaves a weakened copy of the test committed: the ratchet must win.
    (worktree / "tests" / "test_calc.py").write_text("def test_add():\n    assert True\n")
    project.commit("weaken", cwd=worktree)
    code, report = project.gate("ship")
    assert code == 1, "the gate catches the committed edit"
    project.commit("restore", cwd=worktree)  # the gate restored the pristine bytes on disk
    code, report = project.gate("ship")
    assert code == 0, report

    repo, paths = discover(project.root)
    store = TaskStore(paths)
    record = store.get("ship")
    manifest = lock.read_manifest(store.lock_dir("ship"), record.lock_sha256)
    overlay = lock.read_pristine(store.lock_dir("ship"), manifest, [lock.ACCEPTANCE, lock.SPEC])
    plan = plan_merge(repo, target=record.base_branch, branch=record.branch, overlay=overlay)
    assert not plan.moved
    trailers = {"Forge-Task": record.slug, "Forge-Lock": f"sha256:{record.lock_sha256}"}
    oid = commit_merge(repo, paths, plan, message=f"forge: merge {record.slug}", trailers=trailers)

    merged = repo[oid].peel(pygit2.Commit)
    assert repo.branches.local["main"].target == oid
    assert merged.message.endswith(f"Forge-Task: ship\nForge-Lock: sha256:{record.lock_sha256}\n")
    tree = merged.tree
    assert tree["tests/test_calc.py"].data == (project.root / "tests" / "test_calc.py").read_bytes()
    assert tree[".forge/specs/ship.md"].data.startswith(b"# make add add")
    assert b"a + b" in tree["calc.py"].data
    assert "holdout/test_holdout.py" not in [e.name for e in tree], "held-out tests never merge"
    # The user's checkout (on main, clean in the touched files) now holds the change.
    assert "a + b" in (project.root / "calc.py").read_text()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project.root, capture_output=True, text=True
    ).stdout
    assert "calc.py" not in status and not (Path(repo.path) / "MERGE_HEAD").exists()
    assert "tests/test_calc.py" not in status, "the user's untracked copy is now the committed test"
    assert (project.root / ".forge" / "specs" / "ship.md").is_file()
