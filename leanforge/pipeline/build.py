"""`forge build`: attempts until the task merges or fails, resumable at every step.

Each step saves what it did before the next starts (the attempt file, the task record), so a
build killed at any point resumes at the interrupted step: a finished engineer session,
gate run or verdict is never paid for twice, and a merge is found rather than repeated.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from leanforge.agent.claude_code import find_claude
from leanforge.agent.session import make_model
from leanforge.context import Forge
from leanforge.errors import BudgetExceeded, ModelUnavailable, UsageError
from leanforge.pipeline import merging, results, steps
from leanforge.pipeline.attempts import RETRY, Attempt, AttemptLog
from leanforge.pipeline.job import BuildJob, BuildOptions
from leanforge.pipeline.lenses import panel
from leanforge.pipeline.progress import Reporter
from leanforge.records import BUILDING, FAILED, GATED, MERGED, REVIEWED, SPECCED, TaskRecord
from leanforge.state import PROBE_GRACE_SECONDS, held

#: How a build invocation ended, per task.
OUTCOME_MERGED, OUTCOME_APPROVED, OUTCOME_FAILED, OUTCOME_BUDGET, OUTCOME_ERROR = (
    "merged",
    "approved",
    "failed",
    "budget",
    "error",
)


@dataclass(frozen=True)
class BuildResult:
    slug: str
    outcome: str
    record: TaskRecord
    row: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.outcome in (OUTCOME_MERGED, OUTCOME_APPROVED)


def building(forge: Forge, slug: str) -> contextlib.AbstractContextManager[None]:
    """Only one forge process builds a task at a time; the board reads this lock as "running"."""
    return held(
        forge.paths.task_dir(slug) / "build.lock",
        PROBE_GRACE_SECONDS,
        lambda: UsageError(
            f"task {slug} is being built by another forge process; wait for it, or stop it first"
        ),
    )


def next_step(record: TaskRecord, latest: Attempt | None) -> str:
    """Where a build of this task goes next: a pure decision over the record and last attempt."""
    if record.status == MERGED:
        return "tech-lead" if not record.playbook_status else "done"
    if latest is None or latest.outcome in RETRY:
        return "new attempt"
    if not latest.engineer_done:
        return "engineer"
    if latest.gate_passed is None:
        return "gate"
    if record.status == REVIEWED:
        return "merge"
    return "review"


def _open_series(job: BuildJob, latest: Attempt | None) -> None:
    """Set how many attempts this build may run, when it starts fresh or retries a failure."""
    record = job.record()
    if record.status not in (SPECCED, FAILED) and record.attempt_limit:
        return
    finished = latest is None or bool(latest.outcome)
    used = record.attempts if finished else record.attempts - 1
    limit = used + job.max_attempts
    if record.status == FAILED:
        status = BUILDING
        if latest is not None and latest.gate_passed and not latest.outcome:
            status = GATED
        job.move(status, f"retrying: up to attempt {limit}", attempt_limit=limit, failure="")
    else:
        job.update(attempt_limit=limit)


def run_build(job: BuildJob) -> str:
    """Drive one task to merged, approved (--no-merge) or failed; return the outcome."""
    latest = job.log.latest()
    _open_series(job, latest)
    while True:
        record = job.record()
        attempts = job.log.all()
        latest = attempts[-1] if attempts else None
        step = next_step(record, latest)
        if step == "done":
            job.reporter.stage(job.slug, "done", record.attempts, record.attempt_limit)
            return OUTCOME_MERGED
        if step == "tech-lead":
            merging.tech_lead(job, attempts)
            continue
        if step == "new attempt":
            if record.attempts >= record.attempt_limit:
                reason = f"no attempt passed after {record.attempts} attempt(s)"
                job.move(FAILED, reason, failure=reason)
                job.reporter.stage(job.slug, "failed", record.attempts, record.attempt_limit)
                return OUTCOME_FAILED
            number = record.attempts + 1
            job.move(BUILDING, f"attempt {number} started", attempts=number)
            attempt = job.log.save(Attempt(number=number, started_at=job.now()))
            steps.start_sync(job, attempt, latest)
            continue
        assert latest is not None
        if step == "engineer":
            steps.engineer(job, latest, attempts[:-1])
        elif step == "gate":
            steps.gate(job, latest)
        elif step == "review":
            steps.ensure_gated_status(job)
            steps.review(job, latest)
        elif step == "merge":
            if not job.options.merge:
                job.reporter.note(job.slug, f"approved; `forge build {job.slug}` will merge it")
                job.reporter.stage(job.slug, "approved", record.attempts, record.attempt_limit)
                return OUTCOME_APPROVED
            merging.merge(job, latest)


def build_one(forge: Forge, slug: str, options: BuildOptions, reporter: Reporter) -> BuildResult:
    """Build one task under its build lock, and append its row to results.jsonl."""
    forge.store.get(slug)  # unknown or corrupted: fail before anything happens
    with building(forge, slug):
        job = BuildJob(forge, slug, options, reporter)
        before = job.record()
        started, t0 = job.now(), time.monotonic()
        first_attempt = before.attempts + 1
        try:
            outcome = run_build(job)
        except BudgetExceeded as exc:
            reason = f"budget: {exc}"
            job.move(FAILED, reason, failure=reason)
            reporter.stage(
                slug, "stopped (budget)", job.record().attempts, job.record().attempt_limit
            )
            outcome = OUTCOME_BUDGET
        except ModelUnavailable as exc:
            job.update(failure=f"model unavailable: {exc}")
            reporter.note(slug, f"stopped: {exc}; `forge build {slug}` resumes here")
            outcome = OUTCOME_ERROR
        record = job.record()
        row = results.row(
            job,
            before,
            record,
            outcome,
            started=started,
            duration_s=time.monotonic() - t0,
            attempts=[a for a in job.log.all() if a.number >= min(first_attempt, record.attempts)],
        )
        results.append(forge.paths, row)
        return BuildResult(slug, outcome, record, row)


def _needs_work(forge: Forge, slug: str) -> bool:
    record = forge.store.get(slug)
    latest = AttemptLog(forge.store.attempts_dir(slug)).latest()
    return next_step(record, latest) != "done"


def preflight(forge: Forge, options: BuildOptions) -> None:
    """Fail on bad options or a backend that cannot run before any task moves."""
    reviewers = options.reviewers or forge.config.pipeline.reviewers
    panel(forge.paths.workdir, options.lenses or forge.config.pipeline.lenses, reviewers)
    if forge.config.agent.backend == "claude-code":
        find_claude(forge.config.agent.claude_command)
    else:
        make_model(forge)
    forge.python  # noqa: B018 - the interpreter and the sandbox, before anything is spent
    forge.executor  # noqa: B018


def build_many(
    forge: Forge,
    slugs: Sequence[str],
    options: BuildOptions,
    reporter: Reporter,
    jobs: int = 1,
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[BuildResult]:
    """Build several tasks, ``jobs`` at a time; each gets its own repository handle."""
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    if any(_needs_work(forge, slug) for slug in slugs):
        preflight(forge, options)
    if len(slugs) == 1 or jobs == 1:
        return [build_one(forge, s, options, reporter) for s in slugs]
    if forge.config.agent.backend == "scripted":
        forge.scripted_model  # noqa: B018 - load the script once, so every task shares its queues
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(build_one, forge.fork(), s, options, reporter) for s in slugs]
        return [f.result() for f in futures]


def unfinished(forge: Forge) -> list[str]:
    """Tasks `forge build --all` picks up: specced or mid-build (not merged, not failed)."""
    return [r.slug for r in forge.store.all() if r.status in (SPECCED, BUILDING, GATED, REVIEWED)]
