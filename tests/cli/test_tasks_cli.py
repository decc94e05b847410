"""`forge list`, `forge show`, `forge clean` and `-h` on every command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2
import pytest

from leanforge.records import GATED, MERGED, REVIEWED, transition
from leanforge.state import discover
from leanforge.store import TaskStore

COMMANDS = ["init", "spec", "gate", "list", "show", "clean"]


@pytest.mark.parametrize("command", [[], *[[c] for c in COMMANDS]])
def test_every_command_has_short_help(project: Any, command: list[str]) -> None:
    result = project.forge(*command, "-h")
    assert result.exit_code == 0
    assert "Usage: " in result.output


def test_list_is_empty_then_shows_tasks(project: Any) -> None:
    result = project.forge("list")
    assert result.exit_code == 0
    assert "no tasks yet" in result.stdout
    assert project.forge_json("list") == []
    project.spec("first", holdout=False)
    listed = project.forge("list")
    assert "first" in listed.stdout and "specced" in listed.stdout


def test_show_reports_everything_a_user_needs(project: Any) -> None:
    project.spec("shown")
    data = project.forge_json("show", "shown")
    for key in (
        "slug",
        "title",
        "status",
        "base_branch",
        "base_commit",
        "branch",
        "worktree",
        "attempts",
        "lock_sha256",
        "locked_files",
        "holdout_count",
        "created_at",
        "updated_at",
        "usage",
        "cost_usd",
        "lock_files",
    ):
        assert key in data, key
    assert data["base_branch"] == "main"
    assert data["holdout_count"] == 1
    assert data["cost_usd"] == 0
    assert {f["kind"] for f in data["lock_files"]} == {"acceptance", "holdout", "spec"}
    text = project.forge("show", "shown").stdout
    assert "forge/shown" in text and data["lock_sha256"] in text and "verified" in text


def branches(project: Any) -> set[str]:
    return set(pygit2.Repository(str(project.root)).branches.local)


def test_clean_removes_a_task_without_work(project: Any) -> None:
    worktree = project.spec("idle", holdout=False)
    result = project.forge("clean", "idle")
    assert result.exit_code == 0, result.output
    assert not worktree.exists()
    assert "forge/idle" not in branches(project)
    assert not (project.root / ".git" / "worktrees" / "forge-idle").exists()
    assert project.forge_json("list") == []


@pytest.mark.parametrize("work", ["commit", "uncommitted"])
def test_clean_never_deletes_unmerged_work_without_force(project: Any, work: str) -> None:
    worktree = project.spec("busy", holdout=False)
    project.implement(worktree)
    if work == "commit":
        project.commit("implement", cwd=worktree)
    result = project.forge("clean", "busy")
    assert result.exit_code == 2
    assert "--force" in result.output
    assert worktree.exists() and "forge/busy" in branches(project)
    bulk = project.forge_json("clean", "--all")
    assert bulk == [{"slug": "busy", "removed": False, "reason": bulk[0]["reason"]}]
    assert bulk[0]["reason"].startswith("kept")
    assert worktree.exists()
    forced = project.forge("clean", "busy", "--force")
    assert forced.exit_code == 0
    assert not worktree.exists() and "forge/busy" not in branches(project)


def mark_merged(project: Any, slug: str) -> None:
    """Walk a task's record to merged, as the pipeline will after a real merge."""
    _, paths = discover(project.root)
    store = TaskStore(paths)
    record = store.get(slug)
    for status in (GATED, REVIEWED, MERGED):
        record = transition(record, status, "2026-11-22T00:00:00Z")
    store.put(record)


def test_clean_merged_only_touches_merged_tasks(project: Any) -> None:
    done = project.spec("done", holdout=False)
    project.implement(done)
    project.commit("implement", cwd=done)
    other = project.spec("other", holdout=False)
    project.implement(other)
    mark_merged(project, "done")
    result = project.forge_json("clean", "--merged")
    assert [r["slug"] for r in result] == ["done"]
    assert not done.exists() and other.exists()
    assert [r["slug"] for r in project.forge_json("list")] == ["other"]


def test_clean_needs_exactly_one_target(project: Any) -> None:
    result = project.forge("clean")
    assert result.exit_code == 2
    assert "SLUG, --merged or --all" in result.output


def test_gate_refuses_a_merged_task(project: Any) -> None:
    project.spec("fin", holdout=False)
    mark_merged(project, "fin")
    result = project.forge("gate", "fin")
    assert result.exit_code == 2
    assert "already merged" in result.output


def test_forge_runs_from_inside_a_task_worktree(project: Any) -> None:
    worktree = project.spec("inside", holdout=False)
    result = project.forge("list", "--json", cwd=worktree / "tests")
    assert result.exit_code == 0
    assert '"inside"' in result.stdout
    assert Path(project.forge_json("show", "inside")["worktree"]) == worktree


def test_clean_all_keeps_a_corrupt_record_unless_forced(project: Any) -> None:
    project.spec("good", holdout=False)
    project.spec("bad", holdout=False)
    (project.root / ".git" / "forge" / "tasks" / "bad" / "task.json").write_text("[]")
    kept = project.forge_json("clean", "--all")
    assert {r["slug"]: r["removed"] for r in kept} == {"bad": False, "good": True}
    assert "corrupted" in next(r["reason"] for r in kept if r["slug"] == "bad")
    forced = project.forge_json("clean", "--all", "--force")
    assert forced == [{"slug": "bad", "removed": True, "reason": "removed (corrupted record)"}]
    assert "forge/bad" not in branches(project)


def test_show_notices_a_swapped_pristine_file(project: Any) -> None:
    project.spec("swap", holdout=False)
    stored = project.root / ".git/forge/tasks/swap/lock/acceptance/tests/test_calc.py"
    stored.write_text("def test_add():\n    assert True\n")
    data = project.forge_json("show", "swap")
    assert data["lock_state"].startswith("TAMPERED")


def test_the_lock_times_out_with_one_clear_line(project: Any) -> None:
    import filelock

    from leanforge.errors import LockBusy
    from leanforge.state import forge_lock

    _, paths = discover(project.root)
    held = filelock.FileLock(str(paths.lock_path))
    with (
        held,
        pytest.raises(LockBusy, match="wait for it to finish"),
        forge_lock(paths, timeout=0.2),
    ):
        pass


def test_init_files_are_readable_by_everyone(project: Any) -> None:
    (project.root / ".forge" / "config.toml").unlink()
    assert project.forge("init").exit_code == 0
    assert (project.root / ".forge" / "config.toml").stat().st_mode & 0o777 == 0o644


def test_bare_forge_prints_help_and_succeeds(project: Any) -> None:
    result = project.forge()
    assert result.exit_code == 0
    assert "forge spec" in result.stdout and "Commands:" in result.stdout
