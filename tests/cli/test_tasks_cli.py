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


def test_clean_merged_only_touches_merged_tasks(project: Any) -> None:
    done = project.spec("done", holdout=False)
    project.implement(done)
    project.commit("implement", cwd=done)
    other = project.spec("other", holdout=False)
    project.implement(other)
    _, paths = discover(project.root)
    store = TaskStore(paths)
    record = store.get("done")
    for status in (GATED, REVIEWED, MERGED):
        record = transition(record, status, "2026-11-22T00:00:00Z")
    store.put(record)
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
    _, paths = discover(project.root)
    store = TaskStore(paths)
    record = store.get("fin")
    for status in (GATED, REVIEWED, MERGED):
        record = transition(record, status, "2026-11-22T00:00:00Z")
    store.put(record)
    result = project.forge("gate", "fin")
    assert result.exit_code == 2
    assert "already merged" in result.output


def test_forge_runs_from_inside_a_task_worktree(project: Any) -> None:
    worktree = project.spec("inside", holdout=False)
    result = project.forge("list", "--json", cwd=worktree / "tests")
    assert result.exit_code == 0
    assert '"inside"' in result.stdout
    assert Path(project.forge_json("show", "inside")["worktree"]) == worktree
