"""Reviewer verdicts, judged fail-closed: pure functions from a session's final answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from leanforge.pipeline.attempts import Blocker, Verdict


def judge(reviewer: int, lens: str, final: Mapping[str, Any] | None, error: str = "") -> Verdict:
    """The verdict a reviewer's final input amounts to; missing or malformed means rejected."""
    if final is None:
        return Verdict(reviewer, lens, False, problem=f"no verdict: {error or 'none given'}")
    approve = final.get("approve")
    raw = final.get("blockers")
    notes = final.get("notes")
    if not isinstance(approve, bool) or not isinstance(raw, list) or not isinstance(notes, str):
        return Verdict(
            reviewer, lens, False, problem="malformed verdict (approve, blockers, notes)"
        )
    blockers: list[Blocker] = []
    for item in raw:
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(k), str) for k in ("title", "detail", "counterexample")
        ):
            return Verdict(reviewer, lens, False, notes=notes, problem="malformed blocker")
        blockers.append(Blocker(item["title"], item["detail"], item["counterexample"]))
    if approve and blockers:
        return Verdict(
            reviewer,
            lens,
            False,
            tuple(blockers),
            notes,
            problem="approved while naming blockers; counted as a rejection",
        )
    return Verdict(reviewer, lens, approve, tuple(blockers), notes)


def panel_approves(verdicts: Sequence[Verdict], size: int) -> bool:
    """All ``size`` reviewers answered, and every one approved."""
    by_reviewer = {v.reviewer: v for v in verdicts}
    return len(by_reviewer) == size and all(v.approve for v in by_reviewer.values())
