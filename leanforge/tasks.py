"""Task operations behind `forge gate` and `forge clean`: run, record, remove."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import pygit2
from pygit2.enums import FileStatus

from leanforge.clock import iso
from leanforge.context import Forge
from leanforge.errors import CorruptState, UnmergedWork, UsageError
from leanforge.gate.report import GateReport
from leanforge.gate.run import GateSettings, run_gate
from leanforge.git.worktree import delete_branch, remove_worktree
from leanforge.records import BUILDING, GATED, MERGED, TaskRecord, transition
from leanforge.state import forge_lock

Progress = Callable[[str], None]


def gate_task(
    forge: Forge, slug: str, progress: Progress, *, attempt: int | None = None
) -> tuple[GateReport, TaskRecord]:
    """Run the gate on the task's worktree as it is now; save the report and move the status.

    By hand (`forge gate`) each run counts as an attempt; `forge build` passes the number of
    the engineer attempt the run belongs to instead.
    """
    record = forge.store.get(slug)
    if record.status == MERGED:
        raise UsageError(f"task {slug} is already merged; nothing to gate")
    progress(f"gating {slug} (run {record.gate_runs + 1}) in {record.worktree}")
    settings = GateSettings(
        test_command=forge.config.gate.test_command,
        test_timeout=forge.config.timeouts.test_run,
        project_timeout=forge.config.timeouts.project_suite,
    )
    report = run_gate(
        forge.repo,
        record,
        forge.store.lock_dir(slug),
        forge.runner,
        settings,
        forge.clock,
        record.gate_runs + 1,
    )
    with forge_lock(forge.paths):
        current = forge.store.get(slug)
        run = current.gate_runs + 1
        report = dataclasses.replace(report, run=run)
        forge.store.save_gate_report(slug, run, report.to_json())
        updated = transition(
            current,
            GATED if report.passed else BUILDING,
            iso(forge.clock.now()),
            note=f"gate run {run} {'passed' if report.passed else 'failed'}",
            gate_runs=run,
            attempts=current.attempts + 1 if attempt is None else attempt,
            last_gate_passed=report.passed,
        )
        forge.store.put(updated)
    return report, updated


@dataclass(frozen=True)
class Cleaned:
    slug: str
    removed: bool
    reason: str


def unmerged_work(forge: Forge, record: TaskRecord) -> str:
    """Why deleting this task would lose work, or "" if it would not."""
    if record.status == MERGED:
        return ""
    repo = forge.repo
    branch = repo.branches.local.get(record.branch)
    if branch is not None:
        head = branch.peel(pygit2.Commit)
        target = repo.branches.local.get(record.base_branch)
        merged = target is not None and (
            head.id == target.target or repo.descendant_of(target.target, head.id)
        )
        if str(head.id) not in (record.spec_commit, record.base_commit) and not merged:
            return f"branch {record.branch} has commits not merged into {record.base_branch}"
    worktree = forge.paths.worktree(record.slug)
    if (worktree / ".git").exists():
        dirty = [
            path
            for path, flags in pygit2.Repository(str(worktree))
            .status(untracked_files="all")
            .items()
            if flags not in (FileStatus.CURRENT, FileStatus.IGNORED)
        ]
        if dirty:
            return f"worktree has uncommitted changes ({', '.join(sorted(dirty)[:3])})"
    return ""


def clean(
    forge: Forge, slug: str | None, merged: bool, everything: bool, force: bool, progress: Progress
) -> list[Cleaned]:
    """Remove tasks' worktrees, branches and state; refuse to lose unmerged work without ``force``."""
    if sum(bool(x) for x in (slug, merged, everything)) != 1:
        raise UsageError("say what to clean: a SLUG, --merged or --all")
    with forge_lock(forge.paths):
        if slug:
            return [_clean_one(forge, slug, force, single=True, progress=progress)]
        selected = [s for s in forge.store.slugs() if everything or _is_merged(forge, s)]
        return [_clean_one(forge, s, force, single=False, progress=progress) for s in selected]


def _is_merged(forge: Forge, slug: str) -> bool:
    try:
        return forge.store.get(slug).status == MERGED
    except CorruptState:
        return False  # unknown: only --all or an explicit slug may remove it


def _clean_one(
    forge: Forge, slug: str, force: bool, *, single: bool, progress: Progress
) -> Cleaned:
    try:
        record = forge.store.get(slug)
    except CorruptState:
        if not force:
            if single:
                raise
            return Cleaned(slug, False, "kept: its record is corrupted (use --force)")
        discard_task(forge, slug)
        progress(f"removed {slug} (its record was corrupted): worktree, branch and state")
        return Cleaned(slug, True, "removed (corrupted record)")
    why = "" if force else unmerged_work(forge, record)
    if why:
        if single:
            raise UnmergedWork(f"not cleaning {slug}: {why}; pass --force to delete it anyway")
        return Cleaned(slug, False, f"kept: {why} (use --force)")
    discard_task(forge, slug)
    progress(f"removed {slug}: worktree, branch {record.branch} and its state")
    return Cleaned(slug, True, "removed")


def discard_task(forge: Forge, slug: str) -> None:
    """Remove a task's worktree, branch and state, whatever state they are in."""
    remove_worktree(forge.repo, forge.paths, slug)
    delete_branch(forge.repo, slug)
    shutil.rmtree(forge.paths.task_dir(slug), ignore_errors=True)
