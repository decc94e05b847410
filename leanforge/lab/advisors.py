"""The lab's director and critic: agents that read the experiments and steer the next ones.

They are due by the lab's experiment count, which persists across runs: with
``director_every = 5`` the director writes notes after experiments 5, 10, 15... whichever
invocation ran them. Their notes and critiques go into every later worker's prompt.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from leanforge.agent.session import run_session
from leanforge.errors import AgentStopped, BudgetExceeded, ModelUnavailable
from leanforge.git.worktree import discard_worktree, recreate_worktree
from leanforge.lab import decide
from leanforge.lab.ledger import LabRecord
from leanforge.prompts import render_prompt

if TYPE_CHECKING:
    from leanforge.context import Forge
    from leanforge.lab.run import LabRun

#: Experiments the director and the critic are shown.
SHOWN = 30


def advise(lab: LabRun, forge: Forge) -> None:
    """Run the director and the critic if they are due (one advisor at a time per run)."""
    with lab.advising:
        record = lab.ledger.get()
        rows = [r for r in lab.ledger.rows() if r.get("status") != decide.BASELINE]
        for role in ("lab_director", "lab_critic"):
            record = _maybe(lab, forge, role, record, rows)


def _maybe(
    lab: LabRun, forge: Forge, role: str, record: LabRecord, rows: list[dict[str, Any]]
) -> LabRecord:
    """Run ``role`` if it is due; the lab record as it stands afterwards (the critic reads
    the director's fresh notes)."""
    director = role == "lab_director"
    every = lab.config.run.director_every if director else lab.config.run.critic_every
    last = record.notes_after if director else record.critique_after
    if not decide.due(len(rows), last, every):
        return record
    try:
        budget = lab.budget()
    except BudgetExceeded:  # the run's cost cap is spent: no advice, and no worktree made
        return record
    name = "director" if director else "critic"
    lab.note(f"{name}: reviewing {len(rows)} experiment(s)")
    assert record.best is not None
    slug = lab.paths.worktree_slug(name)
    worktree = recreate_worktree(forge.repo, forge.paths, slug, record.best.commit)
    noise = decide.noise_floor(
        float(record.baseline.get("std", 0.0)),
        0.0,
        lab.config.run.noise_k,
        lab.config.run.min_delta,
    )
    prompt = render_prompt(
        f"lab/{name}.task.md.j2",
        **lab.prompt_vars(),
        count=len(rows),
        rows=decide.rows_view(rows, SHOWN),
        notes=record.notes,
        critique=record.critique,
        noise=noise,
    )
    text, cost = "", 0.0
    try:
        outcome = run_session(
            forge,
            role=role,
            system=render_prompt(f"lab/{name}.md.j2"),
            prompt=prompt,
            worktree=worktree,
            model_id=lab.model(role),
            budget_usd=budget,
            transcripts=lab.paths.transcripts,
        )
        text = str(outcome.final.get("notes" if director else "critique", "")).strip()
        cost = outcome.usage.cost_usd
    except BudgetExceeded as exc:
        cost = exc.cost_usd
        lab.halt("cost cap reached (--max-cost)")
        lab.note(f"{name}: stopped by the cost cap")
    except AgentStopped as exc:
        cost = exc.cost_usd
        lab.note(f"{name}: stopped without an answer ({exc}); the old text stays")
    except ModelUnavailable as exc:
        # Advice is optional: the experiments go on, and the advisor is asked again next time.
        lab.note(f"{name}: the model is unavailable ({exc}); skipped")
        return record
    finally:
        discard_worktree(forge.repo, forge.paths, slug)
    with lab.ledger.locked():
        record = lab.ledger.get()
        changes: dict[str, object] = {"spent_usd": round(record.spent_usd + cost, 6)}
        # The count moves on even without an answer, so a failing advisor is not retried
        # after every experiment.
        if director:
            changes.update(notes_after=len(rows), notes=text or record.notes)
        else:
            changes.update(critique_after=len(rows), critique=text or record.critique)
        record = dataclasses.replace(record, **changes)  # type: ignore[arg-type]
        lab.ledger.put(record)
    if text:
        lab.note(f"{name}: {text.splitlines()[0][:120]}")
    return record
