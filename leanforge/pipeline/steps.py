"""The steps of one attempt: engineer, gate and reviewer panel. Each saves what it did at once."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pygit2

from leanforge.agent.session import run_session
from leanforge.errors import AgentStopped, BudgetExceeded, ModelUnavailable
from leanforge.gate.report import GateReport
from leanforge.git.branchwork import bring_in_target, commit_worktree, drop_ignored
from leanforge.pipeline import history, verdicts
from leanforge.pipeline.attempts import (
    ENGINEER_FAILED,
    GATE_FAILED,
    REJECTED,
    Attempt,
)
from leanforge.pipeline.job import BuildJob
from leanforge.pipeline.lenses import Lens, panel
from leanforge.pipeline.progress import APPROVED, BLOCKED, REVIEWING, WAITING
from leanforge.prompts import render_prompt
from leanforge.records import BUILDING, GATED, REVIEWED
from leanforge.tasks import gate_task

#: Characters of diff a reviewer is shown; the rest it can read with its tools.
DIFF_LIMIT = 150_000


@dataclass(frozen=True)
class TestFile:
    path: str
    text: str


def budget_for(job: BuildJob, sessions: int = 1) -> float:
    left = job.budget_left()
    if left <= 0:
        raise BudgetExceeded(
            f"the task's budget of ${job.max_cost:.2f} is spent; raise --max-cost to go on",
            cost_usd=job.record().cost_usd,
        )
    return left / sessions


def start_sync(job: BuildJob, attempt: Attempt, previous: Attempt | None) -> Attempt:
    """After a merge conflict, bring the target into the worktree with markers to resolve."""
    if previous is None or not previous.conflicts or attempt.synced_target:
        return attempt
    tip = str(job.target_tip().id)
    sync = bring_in_target(job.repo, Path(job.record().worktree), tip)
    job.reporter.note(
        job.slug,
        f"merged {job.record().base_branch} into the worktree; conflicts in {', '.join(sync.conflicts) or 'no files'}",
    )
    return job.log.save(dataclasses.replace(attempt, synced_target=tip, conflicts=sync.conflicts))


def engineer(job: BuildJob, attempt: Attempt, earlier: list[Attempt]) -> Attempt:
    """Run the engineer, then commit whatever it left in the worktree."""
    record = job.record()
    job.reporter.stage(job.slug, "engineer", attempt.number, record.attempt_limit)
    tests = [
        TestFile(path, data.decode("utf-8", "replace"))
        for path, data in sorted(job.locked.acceptance.items())
    ]
    prompt = render_prompt(
        "engineer.task.md.j2",
        slug=job.slug,
        title=record.title,
        spec=job.locked.spec,
        tests=tests,
        playbook=job.playbook(),
        history=history.history_text(earlier),
        attempt=attempt.number,
        max_attempts=record.attempt_limit,
        test_command=job.forge.config.gate.agent_command,
        conflict=history.conflict_text(record.base_branch, attempt.conflicts),
    )
    summary, error = "", ""
    try:
        outcome = run_session(
            job.forge,
            role="engineer",
            system=render_prompt("engineer.md.j2"),
            prompt=prompt,
            worktree=Path(record.worktree),
            slug=job.slug,
            model_id=job.model("engineer"),
            budget_usd=budget_for(job),
        )
        summary = str(outcome.final.get("summary", "")).strip() or "(no summary)"
    except (BudgetExceeded, ModelUnavailable):
        raise
    except AgentStopped as exc:
        error = str(exc)
    finally:
        job.reporter.spent(job.slug, job.record().total_usage)
    message = f"forge: {job.slug} attempt {attempt.number}\n\n{summary or error}\n"
    commit, _ = commit_worktree(Path(record.worktree), message, attempt.synced_target)
    if error:
        job.reporter.note(job.slug, f"engineer stopped: {error}")
        return job.log.save(
            dataclasses.replace(
                attempt, summary="", engineer_error=error, commit=commit, outcome=ENGINEER_FAILED
            )
        )
    return job.log.save(dataclasses.replace(attempt, summary=summary, commit=commit))


def gate(job: BuildJob, attempt: Attempt, stage: str = "gate") -> tuple[Attempt, GateReport]:
    """Run the hardened gate on the worktree; a pass names the exact commit it judged."""
    job.reporter.stage(job.slug, stage, attempt.number, job.record().attempt_limit)
    dropped = drop_ignored(Path(job.record().worktree))
    if dropped:
        job.reporter.note(
            job.slug,
            f"removed {len(dropped)} ignored file(s) the merge would leave out: {', '.join(dropped[:5])}",
        )
    report, _ = gate_task(
        job.forge, job.slug, lambda m: job.reporter.note(job.slug, m), attempt=attempt.number
    )
    branch = job.repo.branches.local[job.record().branch].peel(pygit2.Commit)
    failed = history.failed_checks(report, job.redact)
    job.reporter.note(
        job.slug,
        f"gate run {report.run} passed"
        if report.passed
        else f"gate run {report.run} failed: {', '.join(c.name for c in failed)}",
    )
    updated = dataclasses.replace(
        attempt,
        gate_run=report.run,
        gate_passed=report.passed,
        failed_checks=failed,
        gated_commit=str(branch.id) if report.passed else "",
        outcome="" if report.passed else GATE_FAILED,
    )
    return job.log.save(updated), report


def diff_text(job: BuildJob) -> tuple[str, bool]:
    """The change from where the branch left the target to its head: patch, and truncated?"""
    record = job.record()
    head = job.repo.branches.local[record.branch].peel(pygit2.Commit)
    base_id = job.repo.merge_base(job.target_tip().id, head.id) or pygit2.Oid(
        hex=record.base_commit
    )
    base = job.repo[base_id].peel(pygit2.Commit)
    diff = base.tree.diff_to_tree(head.tree, context_lines=3)
    patch = job.redact(diff.patch or "")
    return patch[:DIFF_LIMIT], len(patch) > DIFF_LIMIT


def review(job: BuildJob, attempt: Attempt) -> Attempt:
    """Run the reviewers that have not answered yet, in parallel; all must approve."""
    record = job.record()
    size = job.reviewers
    lenses = panel(
        job.forge.paths.workdir, job.options.lenses or job.forge.config.pipeline.lenses, size
    )
    job.reporter.stage(job.slug, "review", attempt.number, record.attempt_limit)
    done = {v.reviewer for v in attempt.verdicts}
    for number, lens in enumerate(lenses, 1):
        state = WAITING if number not in done else _state(attempt, number)
        job.reporter.reviewer(job.slug, number, lens.name, state)
    todo = [(n, lens) for n, lens in enumerate(lenses, 1) if n not in done]
    if todo:
        report = GateReport.from_json(job.forge.store.gate_report(job.slug, attempt.gate_run))
        diff, truncated = diff_text(job)
        prompt = render_prompt(
            "reviewer.task.md.j2",
            slug=job.slug,
            title=record.title,
            spec=job.locked.spec,
            summary=attempt.summary or "",
            attempt=attempt.number,
            diff=diff,
            diff_truncated=truncated,
            gate=history.gate_text(report, job.redact),
            flags=history.flags_text(report.flags),
        )
        share = budget_for(job, len(todo))
        saving = threading.Lock()
        current = [attempt]
        stops: list[BaseException] = []

        def one(number: int, lens: Lens) -> None:
            job.reporter.reviewer(job.slug, number, lens.name, REVIEWING)
            try:
                outcome = run_session(
                    job.forge,
                    role="reviewer",
                    system=render_prompt("reviewer.md.j2", lens_name=lens.name, lens=lens.text),
                    prompt=prompt,
                    worktree=Path(record.worktree),
                    slug=job.slug,
                    model_id=job.model("reviewer"),
                    budget_usd=share,
                )
                verdict = dataclasses.replace(
                    verdicts.judge(number, lens.name, outcome.final),
                    cost_usd=outcome.usage.cost_usd,
                    transcript=outcome.transcript,
                )
            except (BudgetExceeded, ModelUnavailable) as exc:
                stops.append(exc)
                job.reporter.reviewer(job.slug, number, lens.name, "stopped")
                return
            except AgentStopped as exc:
                verdict = verdicts.judge(number, lens.name, None, str(exc))
            with saving:
                current[0] = job.log.save(
                    dataclasses.replace(current[0], verdicts=(*current[0].verdicts, verdict))
                )
            job.reporter.reviewer(
                job.slug, number, lens.name, APPROVED if verdict.approve else BLOCKED
            )
            for blocker in verdict.blockers:
                job.reporter.note(
                    job.slug, f"reviewer {number} ({lens.name}) blocks: {blocker.title}"
                )
            if verdict.problem:
                job.reporter.note(job.slug, f"reviewer {number} ({lens.name}): {verdict.problem}")

        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            for future in [pool.submit(one, n, lens) for n, lens in todo]:
                future.result()
        job.reporter.spent(job.slug, job.record().total_usage)
        attempt = current[0]
        if stops:
            raise stops[0]
    approved = verdicts.panel_approves(attempt.verdicts, size)
    if approved:
        job.move(REVIEWED, f"attempt {attempt.number}: all {size} reviewers approved")
        return attempt
    rejected = sum(not v.approve for v in attempt.verdicts)
    job.move(BUILDING, f"attempt {attempt.number}: {rejected} of {size} reviewers rejected")
    return job.log.save(dataclasses.replace(attempt, outcome=REJECTED))


def ensure_gated_status(job: BuildJob) -> None:
    """A resumed attempt whose gate passed is GATED, whatever a stop left the record at."""
    if job.record().status != GATED:
        job.move(GATED, "resumed after the gate passed")


def _state(attempt: Attempt, number: int) -> str:
    verdict = next(v for v in attempt.verdicts if v.reviewer == number)
    return APPROVED if verdict.approve else BLOCKED
