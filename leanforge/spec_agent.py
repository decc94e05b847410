"""`forge spec` without ``--tests``: a spec-writer agent drafts the spec and the tests.

The agent works in a draft area, the base commit's files exported into
``<common dir>/forge-worktrees/.draft-<token>/repo`` (no branch, no git worktree entry; the
sandbox shows it as a session's worktree). Each draft is checked by the same code as the human
path (:func:`leanforge.spec.validate`); a refused draft goes back to a new session as feedback,
up to ``pipeline.spec_drafts`` sessions. A valid draft is shown to a :class:`Reviewer` (the human,
or :class:`AutoApprove` for ``--yes``), who approves, edits, asks for changes or cancels.
Approval locks it exactly as the human path does. Whatever happens, the draft area is removed;
only the session transcripts stay, in the state dir's ``sessions/`` unless a task adopts them.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from leanforge.agent.loop import Outcome
from leanforge.agent.session import record_usage, run_session
from leanforge.clock import random_token
from leanforge.config import PLAYBOOK_RELPATH
from leanforge.context import Forge
from leanforge.errors import BudgetExceeded, ForgeError, UsageError
from leanforge.gate.changes import blob_bytes
from leanforge.git.merge import export_tree
from leanforge.prompts import render_prompt
from leanforge.records import TaskRecord, Usage
from leanforge.spec import (
    AGENT_NOTE,
    Checked,
    Progress,
    SpecRequest,
    Target,
    lock_task,
    plan_target,
    validate,
)
from leanforge.spec_files import Submission, parse_submission, read_draft_files

APPROVE, EDIT, FEEDBACK, CANCEL = "approve", "edit", "feedback", "cancel"
_ALL = (APPROVE, EDIT, FEEDBACK, CANCEL)
ROLE = "spec_writer"


@dataclass(frozen=True)
class AgentSpecRequest:
    """What `forge spec "TASK"` was asked, without ``--tests``."""

    task: str
    slug: str | None = None
    base: str | None = None
    model: str | None = None
    allow_passing: bool = False


@dataclass(frozen=True)
class Draft:
    """A checked draft as the reviewer sees it; ``files`` are the paths an edit opens."""

    number: int
    spec: str
    acceptance: Mapping[str, bytes]
    holdout: Mapping[str, bytes]
    files: tuple[Path, ...]


class Reviewer(Protocol):
    """The person who approves a draft (or a stand-in for ``--yes``)."""

    def show(self, draft: Draft) -> None: ...

    def choose(self, allowed: Sequence[str]) -> str:
        """One of ``allowed`` (APPROVE, EDIT, FEEDBACK, CANCEL); CANCEL on end of input."""
        ...

    def feedback(self) -> str:
        """What should change in the next draft ("" = nothing, back to the choice)."""
        ...

    def edit(self, files: Sequence[Path]) -> None: ...

    def refused(self, problem: str) -> None:
        """An edited draft failed its checks."""
        ...


class AutoApprove:
    """``--yes``: approve the first draft that passes its checks, showing nothing."""

    def show(self, draft: Draft) -> None:
        pass

    def choose(self, allowed: Sequence[str]) -> str:
        return APPROVE if APPROVE in allowed else CANCEL

    def feedback(self) -> str:
        return ""

    def edit(self, files: Sequence[Path]) -> None:
        pass

    def refused(self, problem: str) -> None:
        pass


def refusal_note(number: int, problem: str) -> str:
    return f"Draft {number} was refused by forge's checks: {problem}"


def human_note(number: int, text: str) -> str:
    return f"The human reviewing draft {number} asked for changes: {text}"


def write_spec(
    forge: Forge, request: AgentSpecRequest, reviewer: Reviewer, progress: Progress
) -> TaskRecord:
    """Draft with the spec-writer until a reviewer approves, then lock the task; leave no draft behind."""
    target = plan_target(forge, request.task, request.slug, request.base)
    forge.python  # noqa: B018 - fail on a missing interpreter before any money is spent
    area = forge.paths.worktrees_dir / f".draft-{random_token()}"
    made_parent = not area.parent.exists()
    writer = _Writer(forge, request, target, area, progress)
    try:
        export_tree(forge.repo, target.base.tree.id, writer.root)
        checked = writer.until_approved(reviewer)
        record = lock_task(forge, checked, progress)
    finally:
        shutil.rmtree(area, ignore_errors=True)
        if made_parent:
            with contextlib.suppress(OSError):
                area.parent.rmdir()  # only if still empty
    return adopt_sessions(forge, record.slug, writer.sessions)


def adopt_sessions(forge: Forge, slug: str, sessions: Sequence[Outcome]) -> TaskRecord:
    """Charge the spec-writer's sessions to the task and move their transcripts into it.

    The task exists by now, so a bookkeeping problem is a warning, not a failure.
    """
    try:
        record_usage(forge, slug, ROLE, sum((o.usage for o in sessions), Usage()))
    except ForgeError as exc:
        forge.warn(f"could not record the spec-writer's usage in task {slug}: {exc}")
    folder = forge.store.transcripts_dir(slug)
    for outcome in sessions:
        source = Path(outcome.transcript)
        if outcome.transcript and source.is_file():
            try:
                folder.mkdir(parents=True, exist_ok=True)
                shutil.move(source, folder / source.name)
            except OSError as exc:
                forge.warn(f"could not move the transcript {source} into task {slug}: {exc}")
    return forge.store.get(slug)


class _Writer:
    """The drafting loop of one `forge spec`: sessions, checks and the reviewer's choices."""

    def __init__(
        self,
        forge: Forge,
        request: AgentSpecRequest,
        target: Target,
        area: Path,
        progress: Progress,
    ) -> None:
        self.forge, self.request, self.target, self.progress = forge, request, target, progress
        self.root = area / "repo"
        self.spec_file = area / f"{target.slug}.md"
        self.sessions: list[Outcome] = []
        self.feedback: list[str] = []
        self.previous = ""
        self.number = 0

    @property
    def spent(self) -> float:
        return sum(o.usage.cost_usd for o in self.sessions)

    def until_approved(self, reviewer: Reviewer) -> Checked:
        checked, draft, submission = self.draft_round()
        problem = ""
        while True:
            if not problem:
                reviewer.show(draft)
            choice = reviewer.choose((EDIT, FEEDBACK, CANCEL) if problem else _ALL)
            if choice == APPROVE and not problem:
                self.progress(f"draft {draft.number} approved")
                return checked
            if choice == EDIT:
                reviewer.edit(draft.files)
                try:
                    checked, draft = self.check(submission)
                    problem = ""
                except UsageError as exc:
                    problem = str(exc)
                    reviewer.refused(problem)
            elif choice == FEEDBACK:
                text = reviewer.feedback().strip()
                if not text:
                    continue
                if problem:
                    self.feedback.append(f"After the human's edits: {problem}")
                self.feedback.append(human_note(draft.number, text))
                checked, draft, submission = self.draft_round()
                problem = ""
            else:
                raise ForgeError(
                    f"cancelled: no task was created (the spec-writer's transcripts stay in {self.forge.paths.state_dir / 'sessions'})"
                )

    def draft_round(self) -> tuple[Checked, Draft, Submission]:
        """Sessions until a draft passes its checks, at most ``pipeline.spec_drafts``."""
        limit = self.forge.config.pipeline.spec_drafts
        problem = ""
        for attempt in range(1, limit + 1):
            self.progress(f"spec-writer drafting (draft {attempt} of {limit})…")
            submission = self.session()
            self.progress("validating…")
            try:
                checked, draft = self.check(submission)
                return checked, draft, submission
            except UsageError as exc:
                problem = " ".join(str(exc).split())
                self.feedback.append(refusal_note(self.number, problem))
                self.progress(f"draft {self.number} refused: {problem}")
        raise ForgeError(
            f"the spec-writer's {limit} draft(s) were all refused; the last problem: {problem}"
        )

    def session(self) -> Submission:
        self.number += 1
        budget = self.forge.config.budgets.task_usd
        if self.spent >= budget:
            raise BudgetExceeded(
                f"the spec-writer spent the task budget (${budget:.2f}); raise budgets.task_usd",
                cost_usd=self.spent,
            )
        playbook = blob_bytes(self.target.base.tree, PLAYBOOK_RELPATH.as_posix()) or b""
        prompt = render_prompt(
            "spec_writer.task.md.j2",
            task=self.request.task.strip(),
            project=self.forge.paths.workdir.name,
            playbook=playbook.decode("utf-8", "replace"),
            test_command=self.forge.config.gate.agent_command,
            feedback=list(self.feedback),
            previous=self.previous,
        )
        outcome = run_session(
            self.forge,
            role=ROLE,
            system=render_prompt("spec_writer.md.j2"),
            prompt=prompt,
            worktree=self.root,
            slug=None,
            model_id=self.request.model,
            budget_usd=budget - self.spent,
        )
        self.sessions.append(outcome)
        self.progress(
            f"spec-writer submitted draft {self.number} after {outcome.turns} turn(s); ${self.spent:.4f} spent so far"
        )
        submission = parse_submission(outcome.final)
        self.spec_file.write_text(submission.spec, encoding="utf-8")
        return submission

    def check(self, submission: Submission) -> tuple[Checked, Draft]:
        """Read the draft from disk (edits included) and run every check of the human path."""
        if not self.spec_file.is_file():
            raise UsageError(f"the spec file {self.spec_file} is gone; write the spec again")
        spec = self.spec_file.read_text(encoding="utf-8", errors="replace")
        self.previous = spec  # what the next draft starts from, a human's edits included
        acceptance = read_draft_files(self.root, submission.acceptance)
        holdout = read_draft_files(self.root, submission.holdout)
        request = SpecRequest(
            task=self.request.task,
            visible_files=acceptance,
            holdout_files=holdout,
            slug=self.target.slug,
            base=self.target.base_branch,
            allow_passing=self.request.allow_passing,
            spec_text=spec,
            note=AGENT_NOTE,
        )
        checked = validate(self.forge, request, self.progress, self.target)
        files = (self.spec_file, *(self.root / rel for rel in (*acceptance, *holdout)))
        return checked, Draft(self.number, checked.spec, acceptance, holdout, files)
