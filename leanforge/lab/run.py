"""`forge lab run`: experiments until a stopping condition, J at a time, resumable.

One :class:`LabRun` per invocation holds what its threads share: the verified lock, the
stopping conditions and the run's progress. The lab's durable state (numbering, best, notes,
spending) lives in the ledger, so a killed run resumes with the same numbering and best.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pygit2

from leanforge.agent.session import make_model
from leanforge.clock import iso
from leanforge.context import Forge
from leanforge.errors import BudgetExceeded, ForgeError, UsageError
from leanforge.git.worktree import discard_worktree, recreate_worktree
from leanforge.lab import decide
from leanforge.lab.evaluate import evaluate
from leanforge.lab.ledger import Best, LabPaths, LabRecord, Ledger
from leanforge.lab.locking import Pristine, verify
from leanforge.lab.setup import LabConfig, lab_dir
from leanforge.state import forge_lock

Note = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """What `forge lab run` was asked; None means "no limit" or "from lab.toml"."""

    n: int | None = None
    jobs: int = 1
    max_hours: float | None = None
    max_cost: float | None = None
    target: float | None = None
    plateau: int | None = None
    repeats: int | None = None
    #: Model id per role; the key "*" applies to every role.
    models: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary:
    name: str
    stop: str
    rows: list[dict[str, Any]]
    best: Best | None
    spent_usd: float


class LabRun:
    """One invocation of `forge lab run` on one lab."""

    def __init__(self, forge: Forge, config: LabConfig, options: RunOptions, note: Note) -> None:
        self.forge = forge
        self.config = config
        self.options = options
        self.note = note
        self.paths = LabPaths(forge.paths, config.name)
        self.ledger = Ledger(self.paths)
        self.pristine: Pristine | None = None
        self.guard = threading.Lock()
        self.advising = threading.Lock()
        self.started = 0
        self.rows: list[dict[str, Any]] = []
        self.stop = ""
        self.spent_at_start = 0.0
        hours = options.max_hours
        self.limits = decide.Limits(
            n=options.n,
            deadline=forge.clock.now() + timedelta(hours=hours) if hours is not None else None,
            max_cost=options.max_cost,
            target=options.target,
            plateau=options.plateau,
        )

    # -- shared facts -------------------------------------------------------------------

    @property
    def repeats(self) -> int:
        return self.options.repeats or self.config.run.repeats

    def model(self, role: str) -> str | None:
        return self.options.models.get(role) or self.options.models.get("*")

    def task_text(self) -> str:
        path = lab_dir(self.forge.paths.workdir, self.config.name) / "task.md"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def prompt_vars(self) -> dict[str, Any]:
        return {
            "lab": self.config.name,
            "metric": self.config.metric,
            "direction_word": "minimize" if self.config.direction == "min" else "maximize",
            "edit": list(self.config.edit),
            "eval_command": self.config.eval,
            "task": self.task_text(),
        }

    def spent(self) -> float:
        return self.ledger.get().spent_usd - self.spent_at_start

    def budget(self) -> float | None:
        """What one session may spend now: the run's cost cap left, shared by the jobs.

        None without a cap; raises :class:`BudgetExceeded` once the cap is spent.
        """
        if self.limits.max_cost is None:
            return None
        share = max(self.limits.max_cost - self.spent(), 0.0) / max(self.options.jobs, 1)
        if share <= 0:
            raise BudgetExceeded(
                f"the run's cost cap of ${self.limits.max_cost:.2f} is spent; raise --max-cost to go on"
            )
        return share

    def now(self) -> str:
        return iso(self.forge.clock.now())

    # -- git ----------------------------------------------------------------------------

    def lab_tip(self) -> str:
        branch = self.forge.repo.branches.local.get(self.paths.branch)
        if branch is None:
            raise ForgeError(
                f"the lab branch {self.paths.branch} is gone; recreate the lab's state"
            )
        return str(branch.target)

    def ensure_branch(self) -> str:
        """The lab branch, created at the target's tip on the first run."""
        repo = self.forge.repo
        if repo.branches.local.get(self.paths.branch) is None:
            target = repo.branches.local.get(self.config.target)
            if target is None:
                raise UsageError(
                    f"lab {self.config.name} starts from branch {self.config.target!r}, which does not "
                    "exist; set target in lab.toml"
                )
            with forge_lock(self.forge.paths):
                repo.branches.local.create(self.paths.branch, target.peel(pygit2.Commit))
            self.note(
                f"created {self.paths.branch} at {self.config.target} ({str(target.target)[:12]})"
            )
        return self.lab_tip()

    # -- the run ------------------------------------------------------------------------

    def baseline(self, record: LabRecord) -> LabRecord:
        """Measure the lab's best code under the current lock, once per lock."""
        assert self.pristine is not None
        if record.baseline.get("lock") == self.pristine.digest and record.best is not None:
            return record
        commit = self.lab_tip()
        repeats = max(self.config.run.baseline_repeats, self.repeats)
        self.note(
            f"measuring the starting code ({commit[:12]}) {repeats} times for the noise floor"
        )
        slug = self.paths.worktree_slug("base")
        worktree = recreate_worktree(self.forge.repo, self.forge.paths, slug, commit)
        try:
            result = evaluate(self.forge, self.config, worktree, self.pristine.files, repeats)
        finally:
            discard_worktree(self.forge.repo, self.forge.paths, slug)
        if not result.ok or result.measure is None:
            raise ForgeError(
                f"the evaluator fails on the starting code: {result.error}; "
                f"fix it, then `forge lab check {self.config.name}`"
            )
        m = result.measure
        with self.ledger.locked():
            record = self.ledger.get()
            # The first baseline is #0, so experiments count from 1; a re-baseline after a
            # re-lock takes the next number.
            number = record.next_id if self.ledger.rows() else 0
            row = {
                "id": number,
                "status": decide.BASELINE,
                "kept": True,
                "hypothesis": "baseline: the starting code",
                "summary": "",
                "mean": m.mean,
                "std": m.std,
                "samples": list(m.samples),
                "metrics": dict(result.metrics),
                "commit": commit,
                "experiment_commit": commit,
                "parent": "",
                "ref": "",
                "cost_usd": 0.0,
                "duration_s": round(sum(r.duration for r in result.runs), 3),
                "error": "",
                "lock": self.pristine.digest,
                "fix_depth": 0,
                "started_at": self.now(),
                "finished_at": self.now(),
            }
            self.ledger.append(row)
            record = dataclasses.replace(
                record,
                next_id=max(record.next_id, number + 1),
                baseline={
                    "commit": commit,
                    "mean": m.mean,
                    "std": m.std,
                    "lock": self.pristine.digest,
                },
                best=Best(id=number, commit=commit, mean=m.mean, std=m.std),
            )
            self.ledger.put(record)
        self.note(f"baseline #{number}: {self.config.metric} = {m.mean:.6g} ± {m.std:.2g}")
        return record

    def progress(self) -> decide.Progress:
        record = self.ledger.get()
        return decide.Progress(
            started=self.started,
            spent=self.spent(),
            best=record.best.mean if record.best else None,
            outcomes=tuple(r["status"] == decide.KEPT for r in self.rows),
        )

    def claim(self, resumable: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The next experiment to run (a killed run's first), or None when the run must stop."""
        with self.guard:
            if self.stop:
                return None
            reason = decide.stop_reason(
                self.limits, self.progress(), self.config.direction, self.forge.clock.now()
            )
            if reason:
                self.stop = reason
                return None
            self.started += 1
            if resumable:
                state = resumable.pop(0)
                self.note(f"resuming experiment #{state['id']} ({state.get('phase', 'working')})")
                return state
            with self.ledger.locked():
                record = self.ledger.get()
                number = record.next_id
                assert record.best is not None
                start = decide.choose_start(
                    self.ledger.rows(), record.best, self.config.run.max_fix_attempts
                )
                self.ledger.put(dataclasses.replace(record, next_id=number + 1))
                state = {
                    "id": number,
                    "phase": "working",
                    "start": start.commit,
                    "fix_of": start.fix_of,
                    "fix_depth": start.fix_depth,
                    "started_at": self.now(),
                }
                return self.ledger.save_experiment(state)

    def finished(self, row: dict[str, Any]) -> None:
        with self.guard:
            self.rows.append(row)

    def halt(self, reason: str) -> None:
        with self.guard:
            self.stop = self.stop or reason

    def worker_loop(self, forge: Forge, resumable: list[dict[str, Any]]) -> None:
        from leanforge.lab.advisors import advise
        from leanforge.lab.experiment import run_experiment

        try:
            while (state := self.claim(resumable)) is not None:
                row = run_experiment(self, forge, state)
                self.finished(row)
                advise(self, forge)
        except BaseException as exc:  # the other jobs finish what they started, then stop
            self.halt(f"stopped by an error: {exc}")
            raise

    def run(self) -> RunSummary:
        with self.ledger.running():
            self.pristine = verify(self.forge, self.config)
            if self.forge.config.agent.backend != "claude-code":
                make_model(self.forge)  # no key, a bad script: fail before anything is made
            self.ensure_branch()
            record = self.baseline(self.ledger.get())
            self.spent_at_start = record.spent_usd
            resumable = self.ledger.unfinished()
            jobs = max(self.options.jobs, 1)
            if jobs == 1:
                self.worker_loop(self.forge, resumable)
            else:
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    futures = [
                        pool.submit(self.worker_loop, self.forge.fork(), resumable)
                        for _ in range(jobs)
                    ]
                    errors = []
                    for future in futures:
                        try:
                            future.result()
                        except BaseException as exc:
                            errors.append(exc)
                    if errors:
                        raise errors[0]
            final = self.ledger.get()
        return RunSummary(
            name=self.config.name,
            stop=self.stop or "nothing left to do",
            rows=sorted(self.rows, key=lambda r: int(r["id"])),
            best=final.best,
            spent_usd=round(final.spent_usd - self.spent_at_start, 6),
        )
