"""After approval: merge (re-gating when the target moved), then the tech-lead's playbook.

The target ref only ever moves to a tree whose branch commit passed the gate. Merges are
serialized by a merge lock held from planning to the ref update, so with ``-j`` the second
task plans against the first one's result and is re-gated on top of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pygit2
from pygit2.enums import SortMode

from leanforge.agent.protocol import PLAYBOOK_MAX_CHARS
from leanforge.agent.session import run_session
from leanforge.config import PLAYBOOK_RELPATH
from leanforge.errors import (
    AgentStopped,
    ForgeError,
    LockBusy,
    MergeRefused,
    ModelUnavailable,
    TargetMoved,
)
from leanforge.gate.run import SPEC_DIR
from leanforge.git.branchwork import fold_in_target
from leanforge.git.merge import commit_merge, plan_merge, plan_update
from leanforge.pipeline import history
from leanforge.pipeline.attempts import CONFLICT, GATE_FAILED, MERGED, Attempt
from leanforge.pipeline.job import BuildJob
from leanforge.pipeline.steps import budget_for, gate
from leanforge.prompts import render_prompt
from leanforge.records import BUILDING, REVIEWED
from leanforge.records import MERGED as STATUS_MERGED
from leanforge.state import RepoPaths, held

MERGE_WAIT_SECONDS = 3600.0
#: How far back along the target's first parents a finished merge or playbook is looked for.
LOOKBACK = 500


def merge_lock(paths: RepoPaths) -> contextlib.AbstractContextManager[None]:
    """One merge at a time per repository, from planning to moving the ref."""
    return held(
        paths.state_dir / "merge.lock",
        MERGE_WAIT_SECONDS,
        lambda: LockBusy("another merge has run for an hour; check `forge list` and retry"),
    )


def find_trailer(repo: pygit2.Repository, tip: pygit2.Oid, key: str, slug: str) -> str:
    """The newest first-parent commit from ``tip`` carrying ``key: slug``, or ""."""
    walker = repo.walk(tip, SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    wanted = f"\n{key}: {slug}\n"
    for count, commit in enumerate(walker):
        if count >= LOOKBACK:
            break
        if wanted in "\n" + commit.message + "\n":
            return str(commit.id)
    return ""


def overlay(job: BuildJob) -> dict[str, bytes]:
    """What lands verbatim with the merge: the spec and the pristine visible tests."""
    files = dict(job.locked.acceptance)
    files[f"{SPEC_DIR}/{job.slug}.md"] = job.locked.spec.encode()
    return files


def merge(job: BuildJob, attempt: Attempt) -> Attempt:
    """Merge the gated branch into the target; a conflict or failed re-gate sends it back."""
    record = job.record()
    job.reporter.stage(job.slug, "merge", attempt.number, record.attempt_limit)
    with merge_lock(job.forge.paths):
        for _ in range(5):
            record = job.record()
            tip = job.target_tip()
            done = find_trailer(job.repo, tip.id, "Forge-Task", job.slug)
            head = job.repo.branches.local[record.branch].peel(pygit2.Commit)
            if done and job.repo.descendant_of(tip.id, head.id):
                return _merged(job, attempt, done, "found already merged")
            if not job.repo.descendant_of(head.id, tip.id) and head.id != tip.id:
                folded = fold_in_target(job.repo, Path(record.worktree), record.branch, str(tip.id))
                if folded is None:
                    return _conflict(job, attempt, tip)
                job.reporter.note(
                    job.slug, f"{record.base_branch} moved; re-gating the merged result"
                )
                attempt, report = gate(job, attempt, stage="re-gate")
                if not report.passed:
                    job.reporter.note(job.slug, "the merged result failed the gate")
                    return job.log.save(
                        dataclasses.replace(
                            attempt,
                            merge_detail=f"after merging the new {record.base_branch}, the gate failed",
                            outcome=GATE_FAILED,
                        )
                    )
                job.move(REVIEWED, f"re-gated on {record.base_branch} {str(tip.id)[:12]}")
                continue
            if str(head.id) != attempt.gated_commit:
                # The branch moved since the gate judged it (a crash mid-merge): judge it again.
                attempt, report = gate(job, attempt, stage="re-gate")
                if not report.passed:
                    return job.log.save(dataclasses.replace(attempt, outcome=GATE_FAILED))
                job.move(REVIEWED, "re-gated the branch head before merging")
                continue
            try:
                plan = plan_merge(
                    job.repo, target=record.base_branch, branch=record.branch, overlay=overlay(job)
                )
                commit = commit_merge(
                    job.repo,
                    job.forge.paths,
                    plan,
                    message=f"forge: merge {job.slug}\n\n{record.title}",
                    trailers={
                        "Forge-Task": job.slug,
                        "Forge-Lock": f"sha256:{record.lock_sha256}",
                        "Forge-Attempts": str(attempt.number),
                    },
                )
            except TargetMoved:
                continue
            return _merged(job, attempt, str(commit), f"merged into {record.base_branch}")
    raise MergeRefused(f"{record.base_branch} kept moving; run `forge build {job.slug}` again")


def _merged(job: BuildJob, attempt: Attempt, commit: str, how: str) -> Attempt:
    job.move(STATUS_MERGED, f"{how} as {commit[:12]}", merged_commit=commit, failure="")
    job.reporter.note(job.slug, f"{how}: {commit[:12]}")
    return job.log.save(dataclasses.replace(attempt, outcome=MERGED, merge_detail=how))


def _conflict(job: BuildJob, attempt: Attempt, tip: pygit2.Commit) -> Attempt:
    record = job.record()
    head = job.repo.branches.local[record.branch].peel(pygit2.Commit)
    index = job.repo.merge_commits(head.id, tip.id)
    paths = sorted({e.path for c in index.conflicts or () for e in c if e is not None})
    detail = f"{record.base_branch} moved (now {str(tip.id)[:12]}) and conflicts with this task in {', '.join(paths)}"
    job.reporter.note(job.slug, f"merge conflict: {', '.join(paths)}")
    job.move(BUILDING, f"attempt {attempt.number}: merge conflict")
    return job.log.save(
        dataclasses.replace(attempt, merge_detail=detail, conflicts=tuple(paths), outcome=CONFLICT)
    )


def tech_lead(job: BuildJob, attempts: list[Attempt]) -> None:
    """Rewrite the playbook from what the task taught, as its own commit on the target."""
    record = job.record()
    if record.playbook_status:
        return
    job.reporter.stage(job.slug, "tech-lead", record.attempts, record.attempt_limit)
    found = find_trailer(job.repo, job.target_tip().id, "Forge-Playbook", job.slug)
    if found:
        job.update(playbook_status="committed", playbook_commit=found)
        return
    files = merged_files(job)
    last = attempts[-1] if attempts else None
    prompt = render_prompt(
        "tech_lead.task.md.j2",
        slug=job.slug,
        title=record.title,
        spec=job.locked.spec,
        playbook=job.playbook(),
        history=history.history_text(attempts),
        summary=(last.summary or "") if last else "",
        files=files,
    )
    try:
        outcome = run_session(
            job.forge,
            role="tech_lead",
            system=render_prompt("tech_lead.md.j2", max_chars=PLAYBOOK_MAX_CHARS),
            prompt=prompt,
            worktree=Path(record.worktree),
            slug=job.slug,
            model_id=job.model("tech_lead"),
            budget_usd=budget_for(job),
            read_only=True,
        )
    except (AgentStopped, ModelUnavailable) as exc:
        job.forge.warn(f"{job.slug}: the playbook was not updated: {exc}")
        job.update(playbook_status="failed")
        return
    text = str(outcome.final["playbook"]).strip() + "\n"
    try:
        # Under the merge lock, so a playbook commit cannot land in the middle of another
        # task's re-gate and send it round again for a file no gate reads.
        with merge_lock(job.forge.paths):
            _commit_playbook(job, record.base_branch, text)
    except ForgeError as exc:
        saved = job.forge.paths.task_dir(job.slug) / "PLAYBOOK.proposed.md"
        saved.write_text(text, encoding="utf-8")
        job.forge.warn(f"{job.slug}: the new playbook was not committed ({exc}); it is in {saved}")
        job.update(playbook_status="failed")


def _commit_playbook(job: BuildJob, target: str, text: str) -> None:
    """Commit the playbook on ``target``, planning again if the target moves meanwhile."""
    for _ in range(5):
        plan = plan_update(
            job.repo,
            target=target,
            files={PLAYBOOK_RELPATH.as_posix(): text.encode()},
            label=f"the playbook of {job.slug}",
        )
        if not plan.touched:
            job.update(playbook_status="skipped")
            return
        try:
            commit = commit_merge(
                job.repo,
                job.forge.paths,
                plan,
                message=f"forge: playbook after {job.slug}",
                trailers={"Forge-Task": job.slug, "Forge-Playbook": job.slug},
                merge=False,
            )
        except TargetMoved:
            continue
        job.update(playbook_status="committed", playbook_commit=str(commit))
        job.reporter.note(job.slug, f"playbook updated: {str(commit)[:12]}")
        return
    raise MergeRefused(f"{target} kept moving; the playbook was not committed")


def merged_files(job: BuildJob) -> list[str]:
    """The paths the task's merge commit changed on the target."""
    merged = job.repo[job.record().merged_commit].peel(pygit2.Commit)
    diff = merged.parents[0].tree.diff_to_tree(merged.tree)
    return sorted({d.new_file.path for d in diff.deltas})
