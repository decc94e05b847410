"""`forge gh run`: one GitHub event in, a pull request (or a merge) and one progress comment out.

The order is the security model: nothing reaches a model before the event is known to carry
the label, to come from this repository (not a fork), and to be sent by someone with write
access. The issue's text is sanitized before the spec-writer reads it. The cost cap covers
the spec-writer and the whole build, and it must be finite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pygit2

from leanforge.context import Forge
from leanforge.errors import ForgeError, UsageError
from leanforge.gate.report import GateReport
from leanforge.git.commits import commit_files
from leanforge.git.merge import format_message
from leanforge.git.remote import push
from leanforge.github import event as events
from leanforge.github import report
from leanforge.github.rest import GitHub
from leanforge.pipeline import history
from leanforge.pipeline.build import build_one
from leanforge.pipeline.job import BuildJob, BuildOptions
from leanforge.pipeline.merging import overlay
from leanforge.pipeline.progress import APPROVED, BLOCKED, Reporter, SilentReporter
from leanforge.records import TaskRecord, Usage
from leanforge.spec_agent import AgentSpecRequest, AutoApprove, write_spec
from leanforge.tasks import discard_task

MODES = ("pr", "merge")


@dataclass(frozen=True)
class ActionOptions:
    label: str = "forge"
    mode: str = "pr"
    reviewers: int | None = None
    max_attempts: int | None = None
    max_cost: float = 5.0
    model: str | None = None
    target: str | None = None
    remote: str = "origin"
    run_url: str = ""


@dataclass(frozen=True)
class ActionResult:
    #: "skipped" (not for forge), "refused" (fork, untrusted sender), "done" or "failed".
    status: str
    reason: str = ""
    slug: str = ""
    pull_url: str = ""
    merged_commit: str = ""
    comment_id: int = 0

    @property
    def ok(self) -> bool:
        return self.status in ("skipped", "refused", "done")


class ProgressComment:
    """The one comment forge keeps on the issue: found again on a retry, edited at each stage."""

    def __init__(self, github: GitHub, repo: str, number: int, board: report.Board) -> None:
        self.github, self.repo, self.number, self.board = github, repo, number, board
        self.comment_id = 0

    def find(self) -> None:
        """Adopt forge's comment from an earlier run (the newest), so a retry edits the same one.

        Only a bot's comment counts (forge comments as github-actions or as an app): anyone
        can post a comment that starts with the marker.
        """
        for comment in self.github.issue_comments(self.repo, self.number):
            user = comment.get("user") or {}
            if str(comment.get("body", "")).startswith(report.MARKER) and user.get("type") == "Bot":
                self.comment_id = int(comment["id"])

    def show(self, board: report.Board) -> None:
        if board == self.board and self.comment_id:
            return
        self.board = board
        body = report.progress_comment(board)
        if self.comment_id:
            self.github.update_comment(self.repo, self.comment_id, body)
        else:
            self.comment_id = int(self.github.create_comment(self.repo, self.number, body)["id"])


class CommentReporter(Reporter):
    """Build progress into the comment: stage changes and reviewers' decisions, not every line."""

    def __init__(self, comment: ProgressComment) -> None:
        self.comment = comment

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        board = self.comment.board.at("build", report.RUNNING, f"attempt {attempt}/{of}: {stage}")
        self.comment.show(board)

    def reviewer(self, slug: str, index: int, lens: str, state: str) -> None:
        if state in (APPROVED, BLOCKED):
            self.comment.show(self.comment.board.noted(f"reviewer {index} ({lens}) {state}"))

    def spent(self, slug: str, usage: Usage) -> None:
        self.comment.board = replace(self.comment.board, cost_usd=usage.cost_usd)

    def note(self, slug: str, message: str) -> None:
        self.comment.board = self.comment.board.noted(message)


def load_event(path: Path, name: str) -> events.Trigger:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the event file {path} ({exc}); pass --event PATH") from None
    return events.parse_event(name, payload)  # refuses a payload that is not a JSON object


def check_options(options: ActionOptions) -> None:
    if options.mode not in MODES:
        raise UsageError(f"--mode must be pr or merge, not {options.mode!r}")
    if not (math.isfinite(options.max_cost) and options.max_cost > 0):
        raise UsageError("--max-cost must be a positive number of USD: the cost cap fails closed")


def run_action(
    forge: Forge,
    github: GitHub,
    trigger: events.Trigger,
    options: ActionOptions,
    *,
    token: str = "",
    note: Callable[[str], None] = lambda _: None,
) -> ActionResult:
    """Handle one event: authorize, spec, build, deliver; the comment tells the issue each step."""
    check_options(options)
    run, why = events.decide(trigger, options.label)
    if not run:
        note(f"nothing to do: {why}")
        return ActionResult("skipped", why)
    slug = f"issue-{trigger.number}"
    comment = ProgressComment(
        github, trigger.repo, trigger.number, report.Board(slug=slug, run_url=options.run_url)
    )
    comment.find()
    board = comment.board
    if trigger.fork:
        reason = "forge ignores events from forks"
        comment.show(
            replace(board.at("authorize", report.FAILED, reason), outcome="refused", reason=reason)
        )
        return ActionResult("refused", reason, comment_id=comment.comment_id)
    permission = github.permission(trigger.repo, trigger.sender)
    if not events.authorized(permission):
        reason = (
            f"@{trigger.sender} has {permission!r} access; forge runs only for people with write "
            "access to this repository (a label or a comment alone proves nothing)"
        )
        note(reason)
        comment.show(
            replace(board.at("authorize", report.FAILED, reason), outcome="refused", reason=reason)
        )
        return ActionResult("refused", reason, comment_id=comment.comment_id)
    comment.show(board.at("authorize", report.PASSED, f"@{trigger.sender} ({permission})"))
    try:
        return _pipeline(forge, github, trigger, options, comment, slug, token, note)
    except ForgeError as exc:
        reason = str(exc)
        note(f"failed: {reason}")
        _label(github, trigger, report.FAILED_LABEL, report.DONE_LABEL)
        failed = comment.board
        for stage in report.STAGES:
            if failed.states[stage][0] == report.RUNNING:
                failed = failed.at(stage, report.FAILED, failed.states[stage][1])
        comment.show(replace(failed, outcome="failed", reason=reason, cost_usd=_cost(forge, slug)))
        return ActionResult("failed", reason, slug=slug, comment_id=comment.comment_id)


def _cost(forge: Forge, slug: str) -> float:
    return forge.store.get(slug).cost_usd if forge.store.exists(slug) else 0.0


def _label(github: GitHub, trigger: events.Trigger, add: str, remove: str) -> None:
    github.add_labels(trigger.repo, trigger.number, [add])
    if remove in trigger.labels:
        github.remove_label(trigger.repo, trigger.number, remove)


def _target(forge: Forge, options: ActionOptions) -> str:
    name = options.target or (forge.repo.head.shorthand if not forge.repo.head_is_detached else "")
    if not name or forge.repo.branches.local.get(name) is None:
        raise UsageError(
            f"no local branch {name or '(detached HEAD)'!r} to build on; pass --target BRANCH"
        )
    return name


def _pipeline(
    forge: Forge,
    github: GitHub,
    trigger: events.Trigger,
    options: ActionOptions,
    comment: ProgressComment,
    slug: str,
    token: str,
    note: Callable[[str], None],
) -> ActionResult:
    target = _target(forge, options)
    if forge.store.exists(slug):  # a retry on the same machine starts from scratch
        discard_task(forge, slug)
    task = events.task_text(trigger.title, trigger.body)
    comment.show(
        comment.board.at("spec", report.RUNNING, "the spec-writer drafts the spec and tests")
    )
    record = write_spec(
        forge,
        AgentSpecRequest(task=task, slug=slug, base=target, model=options.model),
        AutoApprove(),
        note,
    )
    tests = [p for p in record.locked_files]
    comment.show(
        comment.board.at(
            "spec", report.PASSED, f"{len(tests)} locked file(s), {record.holdout_count} held out"
        ).at("build", report.RUNNING, "starting")
    )
    build = BuildOptions(
        reviewers=options.reviewers,
        max_attempts=options.max_attempts,
        max_cost=options.max_cost,
        models={"*": options.model} if options.model else {},
        merge=options.mode == "merge",
    )
    result = build_one(forge, slug, build, CommentReporter(comment))
    if not result.ok:
        raise ForgeError(result.record.failure or f"the build ended with {result.outcome}")
    comment.show(
        comment.board.at(
            "build", report.PASSED, f"approved after {result.record.attempts} attempt(s)"
        ).at("deliver", report.RUNNING, "pushing")
    )
    if options.mode == "merge":
        branch = result.record.branch
        refspecs = [
            f"+refs/heads/{branch}:refs/heads/{branch}",
            f"refs/heads/{target}:refs/heads/{target}",
        ]
        push(forge.repo, options.remote, refspecs, token)
        merged = result.record.merged_commit
        link = f"merged into `{target}` as {merged[:12]}"
        outcome = ActionResult("done", link, slug=slug, merged_commit=merged)
    else:
        url = _open_pull(forge, github, trigger, options, result.record, target, token)
        link = url
        outcome = ActionResult("done", url, slug=slug, pull_url=url)
    _label(github, trigger, report.DONE_LABEL, report.FAILED_LABEL)
    comment.show(
        replace(
            comment.board.at("deliver", report.PASSED, link),
            outcome="done",
            link=link,
            cost_usd=result.record.cost_usd,
        )
    )
    return replace(outcome, comment_id=comment.comment_id)


def _open_pull(
    forge: Forge,
    github: GitHub,
    trigger: events.Trigger,
    options: ActionOptions,
    record: TaskRecord,
    target: str,
    token: str,
) -> str:
    """Push the branch with its spec and pristine tests on top, then open (or refresh) the PR."""
    slug = record.slug
    job = BuildJob(forge, slug, BuildOptions(), SilentReporter())
    head = forge.repo.branches.local[record.branch].peel(pygit2.Commit)
    files = overlay(job)
    message = format_message(
        f"forge: {slug}: the spec and the locked acceptance tests",
        {"Forge-Task": slug, "Forge-Lock": f"sha256:{record.lock_sha256}"},
    )
    tip = commit_files(forge.repo, head, files, message)
    branch = record.branch
    forge.repo.references.create(f"refs/heads/{branch}", tip.id, force=True)
    push(forge.repo, options.remote, [f"+refs/heads/{branch}:refs/heads/{branch}"], token)
    attempts = job.log.all()
    last = attempts[-1] if attempts else None
    gate = ""
    if last is not None and last.gate_run:
        gate = history.gate_text(
            GateReport.from_json(forge.store.gate_report(slug, last.gate_run)), job.redact
        )
    body = report.pull_body(
        number=trigger.number,
        slug=slug,
        spec=job.locked.spec,
        tests=sorted(job.locked.acceptance),
        gate=gate,
        attempts=attempts,
        cost_by_role={role: u.cost_usd for role, u in record.usage.items()},
        lock_sha256=record.lock_sha256,
    )
    title = f"forge: {events.task_text(trigger.title, '').strip().lstrip('#').strip()} (#{trigger.number})"
    existing = github.find_pull(trigger.repo, head=branch, base=target)
    if existing is not None:
        github.update_pull(trigger.repo, int(existing["number"]), body=body)
        return str(existing.get("html_url", ""))
    made = github.create_pull(trigger.repo, title=title[:250], head=branch, base=target, body=body)
    return str(made.get("html_url", ""))
