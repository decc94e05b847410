"""One experiment: a lab worker's change, checked for scope, measured, then kept or archived.

Every phase is saved before the next begins (``experiments/N.json``), so a killed run picks
the experiment up where it stopped: a worker that had not finished runs again; a committed
change is measured again. Every experiment's commit gets an archive ref
(``refs/forge/lab/NAME/exp-N``), kept or not, so no diff is ever lost.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from leanforge.agent.session import run_session
from leanforge.errors import AgentStopped, BudgetExceeded
from leanforge.git.branchwork import commit_worktree, drop_ignored
from leanforge.git.commits import signature
from leanforge.git.worktree import discard_worktree, recreate_worktree
from leanforge.lab import decide
from leanforge.lab.evaluate import evaluate
from leanforge.lab.ledger import Best
from leanforge.lab.locking import still_locked
from leanforge.lab.setup import in_scope
from leanforge.prompts import render_prompt
from leanforge.state import forge_lock

if TYPE_CHECKING:
    from leanforge.context import Forge
    from leanforge.lab.run import LabRun


def changed_paths(repo: pygit2.Repository, start: str, commit: str) -> list[str]:
    old = repo[pygit2.Oid(hex=start)].peel(pygit2.Commit).tree
    new = repo[pygit2.Oid(hex=commit)].peel(pygit2.Commit).tree
    paths: set[str] = set()
    for delta in old.diff_to_tree(new).deltas:
        paths.update((delta.old_file.path, delta.new_file.path))
    return sorted(paths)


def worker_prompt(lab: LabRun, state: dict[str, Any]) -> str:
    record = lab.ledger.get()
    rows = lab.ledger.rows()
    kept, others = decide.memory(
        rows, lab.config.direction, lab.config.run.memory_kept, lab.config.run.memory_discarded
    )
    fix = None
    if state.get("fix_of"):
        crashed = next((r for r in rows if r["id"] == state["fix_of"]), {})
        fix = {
            "id": state["fix_of"],
            "error": crashed.get("error", ""),
            "hypothesis": crashed.get("hypothesis", ""),
            "attempt": state.get("fix_depth", 1),
            "limit": lab.config.run.max_fix_attempts,
        }
    best = record.best
    return render_prompt(
        "lab/worker.task.md.j2",
        **lab.prompt_vars(),
        number=state["id"],
        best=dataclasses.asdict(best) if best else None,
        baseline=record.baseline or None,
        start_label=f"experiment #{state['fix_of']}'s change" if fix else "the best code",
        fix=fix,
        notes=record.notes,
        critique=record.critique,
        kept=kept,
        others=others,
    )


def work(lab: LabRun, forge: Forge, state: dict[str, Any], worktree: Path) -> dict[str, Any]:
    """Run the worker, commit what it left; the state gets the commit, hypothesis and cost."""
    number = state["id"]
    lab.note(f"#{number}: worker starting from {state['start'][:12]}")
    error, hypothesis, summary, cost = "", "", "", 0.0
    budget: float | None = 0.0  # what is left if lab.budget() raises: the run's cap is spent
    try:
        budget = lab.budget()
        outcome = run_session(
            forge,
            role="lab_worker",
            system=render_prompt("lab/worker.md.j2", eval_command=lab.config.eval),
            prompt=worker_prompt(lab, state),
            worktree=worktree,
            model_id=lab.model("lab_worker"),
            budget_usd=budget,
            transcripts=lab.paths.transcripts,
        )
        hypothesis = str(outcome.final.get("hypothesis", "")).strip()
        summary = str(outcome.final.get("summary", "")).strip()
        cost = outcome.usage.cost_usd
    except BudgetExceeded as exc:
        cost = exc.cost_usd
        if budget is not None and budget < forge.config.budgets.session_usd:
            error = f"the run's cost cap stopped the worker: {exc}"
            lab.halt("cost cap reached (--max-cost)")
        else:  # the per-session cap (budgets.session_usd): this worker failed, the run goes on
            error = f"the worker hit budgets.session_usd: {exc}"
    except AgentStopped as exc:
        error, cost = f"the worker stopped without submitting: {exc}", exc.cost_usd
    message = f"lab {lab.config.name}: experiment {number}\n\n{hypothesis or error}\n"
    commit, _ = commit_worktree(worktree, message)
    lab.ledger.spend(cost)
    return lab.ledger.save_experiment(
        {
            **state,
            "phase": "committed",
            "commit": commit,
            "hypothesis": hypothesis,
            "summary": summary,
            "worker_error": error,
            "cost_usd": round(cost, 6),
        }
    )


def keep_commit(lab: LabRun, forge: Forge, number: int, commit: str, hypothesis: str) -> str:
    """Put the kept tree on the lab branch as one commit whose parent is the branch's tip.

    The worker's own commit is used when it already sits on the tip; otherwise (another
    experiment was kept meanwhile, or this one fixed a crashed experiment) a new commit of
    exactly the measured tree is made, so the branch stays a line of kept trees and the
    experiment's own history stays on its archive ref.
    """
    repo = forge.repo
    with forge_lock(forge.paths):
        branch = repo.branches.local[lab.paths.branch]
        tip = branch.target
        exp = repo[pygit2.Oid(hex=commit)].peel(pygit2.Commit)
        new = exp.id
        if exp.parent_ids != [tip]:
            who = signature(repo)
            text = (
                f"lab {lab.config.name}: experiment {number}\n\n{hypothesis}\n\n"
                f"Measured on this tree; the experiment's own commit is {lab.paths.archive_ref(number)}.\n"
            )
            new = repo.create_commit(None, who, who, text, exp.tree_id, [tip])
        branch.set_target(new, f"forge lab {lab.config.name}: keep experiment {number}")
    return str(new)


def judge(lab: LabRun, forge: Forge, state: dict[str, Any], worktree: Path) -> dict[str, Any]:
    """Scope check, evaluation, keep or discard: the experiment's results row."""
    assert lab.pristine is not None
    number, commit = state["id"], state["commit"]
    row: dict[str, Any] = {
        "mean": None,
        "std": None,
        "samples": [],
        "metrics": {},
        "error": state.get("worker_error", ""),
        "status": decide.FAILED,
        "commit": "",
    }
    if row["error"]:
        return row
    changed = changed_paths(forge.repo, state["start"], commit)
    outside = [p for p in changed if not in_scope(p, lab.config.edit)]
    if not changed:
        return {**row, "status": decide.REJECTED, "error": "the experiment changed nothing"}
    if outside:
        return {
            **row,
            "status": decide.REJECTED,
            "error": f"changed files outside --edit ({', '.join(lab.config.edit)}): {', '.join(outside)}",
        }
    still_locked(forge, lab.config.name, lab.pristine.digest)
    # The measured files must be the committed ones: ignored files the commit leaves out go.
    drop_ignored(worktree)
    lab.note(f"#{number}: evaluating {commit[:12]} ({lab.repeats} run(s))")
    result = evaluate(forge, lab.config, worktree, lab.pristine.files, lab.repeats)
    if not result.ok or result.measure is None:
        return {**row, "status": decide.CRASHED, "error": result.error}
    m = result.measure
    row.update(mean=m.mean, std=m.std, samples=list(m.samples), metrics=dict(result.metrics))
    with lab.ledger.locked():
        record = lab.ledger.get()
        best = record.best
        assert best is not None
        floor = decide.noise_floor(
            float(record.baseline.get("std", 0.0)),
            m.std,
            lab.config.run.noise_k,
            lab.config.run.min_delta,
        )
        kept, why = decide.keep(lab.config.direction, best, m, floor)
        if best.id == number:  # kept before a kill, whose row was never written
            kept, why = True, "kept before the run was interrupted"
            row.update(status=decide.KEPT, commit=best.commit, decision=why)
            return row
        row["decision"] = why
        if kept:
            tip = keep_commit(lab, forge, number, commit, state.get("hypothesis", ""))
            row.update(status=decide.KEPT, commit=tip)
            lab.ledger.put(
                dataclasses.replace(
                    record, best=Best(id=number, commit=tip, mean=m.mean, std=m.std)
                )
            )
        else:
            row["status"] = decide.DISCARDED
    return row


def run_experiment(lab: LabRun, forge: Forge, state: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) experiment ``state["id"]`` to its results row."""
    number = int(state["id"])
    slug = lab.paths.worktree_slug(number)
    started = time.monotonic()
    if state.get("phase") == "working":
        worktree = recreate_worktree(forge.repo, forge.paths, slug, state["start"])
        state = work(lab, forge, state, worktree)
    else:
        worktree = recreate_worktree(forge.repo, forge.paths, slug, state["commit"])
    try:
        verdict = judge(lab, forge, state, worktree)
    finally:
        discard_worktree(forge.repo, forge.paths, slug)
    forge.repo.references.create(
        lab.paths.archive_ref(number), pygit2.Oid(hex=state["commit"]), force=True
    )
    row = {
        "id": number,
        "hypothesis": state.get("hypothesis", ""),
        "summary": state.get("summary", ""),
        "kept": verdict["status"] == decide.KEPT,
        "experiment_commit": state["commit"],
        "parent": state["start"],
        "ref": lab.paths.archive_ref(number),
        "cost_usd": state.get("cost_usd", 0.0),
        "duration_s": round(time.monotonic() - started + state.get("duration_s", 0.0), 3),
        "lock": lab.pristine.digest if lab.pristine else "",
        "fix_of": state.get("fix_of", 0),
        "fix_depth": state.get("fix_depth", 0),
        "started_at": state.get("started_at", ""),
        "finished_at": lab.now(),
        **verdict,
    }
    with lab.ledger.locked():
        lab.ledger.append(row)
    lab.ledger.save_experiment({**state, "phase": "done"})
    shown = decide.measure_text(row)
    detail = row.get("decision") or row["error"][:200]
    lab.note(f"#{number}: {row['status']} ({shown}){': ' + detail if detail else ''}")
    return row
