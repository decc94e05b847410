"""The lab's decisions, as pure functions: keep or discard, where to start, when to stop, who is due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leanforge.lab.ledger import Best, Measure

KEPT = "kept"
DISCARDED = "discarded"
CRASHED = "crashed"
REJECTED = "rejected"
FAILED = "failed"
BASELINE = "baseline"


def noise_floor(baseline_std: float, candidate_std: float, k: float, min_delta: float) -> float:
    """How much better a candidate must be to count: k standard deviations, at least min_delta.

    The spread is the larger of the baseline's (measured on repeats of the starting code) and
    the candidate's own, so a noisy candidate cannot slip through on a quiet baseline.
    """
    return max(k * max(baseline_std, candidate_std), min_delta)


def keep(direction: str, best: Best, candidate: Measure, floor: float) -> tuple[bool, str]:
    """Keep the candidate only if it beats the best by more than the noise floor."""
    gain = best.mean - candidate.mean if direction == "min" else candidate.mean - best.mean
    if gain > floor:
        return True, f"beats #{best.id} by {gain:.6g} (noise floor {floor:.6g})"
    if gain > 0:
        return False, f"better than #{best.id} by {gain:.6g}, within the noise floor {floor:.6g}"
    return False, f"not better than #{best.id} ({candidate.mean:.6g} vs {best.mean:.6g})"


@dataclass(frozen=True)
class Start:
    """Where an experiment's worktree starts: the best, or a crashed experiment to fix."""

    commit: str
    fix_of: int = 0
    fix_depth: int = 0


def choose_start(rows: Sequence[Mapping[str, Any]], best: Best, max_fix: int) -> Start:
    """After a crash, the next experiment may fix it (up to ``max_fix`` times in a chain)."""
    experiments = [r for r in rows if r.get("status") != BASELINE]
    if not experiments:
        return Start(best.commit)
    last = max(experiments, key=lambda r: int(r["id"]))
    depth = int(last.get("fix_depth", 0))
    if last.get("status") == CRASHED and last.get("experiment_commit") and depth < max_fix:
        return Start(str(last["experiment_commit"]), fix_of=int(last["id"]), fix_depth=depth + 1)
    return Start(best.commit)


@dataclass(frozen=True)
class Limits:
    """The stopping conditions of one `forge lab run` (None: no limit)."""

    n: int | None = None
    deadline: datetime | None = None
    max_cost: float | None = None
    target: float | None = None
    plateau: int | None = None


@dataclass(frozen=True)
class Progress:
    """What the run has done so far."""

    started: int
    spent: float
    best: float | None
    #: Finished experiments of this run, in the order they finished: kept or not.
    outcomes: tuple[bool, ...]


def reached(direction: str, value: float | None, target: float | None) -> bool:
    if value is None or target is None:
        return False
    return value <= target if direction == "min" else value >= target


def stop_reason(limits: Limits, progress: Progress, direction: str, now: datetime) -> str:
    """Why no further experiment may start ("" if one may)."""
    if reached(direction, progress.best, limits.target):
        return f"target reached ({progress.best:.6g})"
    if limits.n is not None and progress.started >= limits.n:
        return f"ran {limits.n} experiment(s) (-n)"
    if limits.max_cost is not None and progress.spent >= limits.max_cost:
        return f"cost cap reached (${progress.spent:.4f} of ${limits.max_cost:.2f})"
    if limits.deadline is not None and now >= limits.deadline:
        return "time limit reached (--max-hours)"
    if limits.plateau is not None:
        tail = 0
        for was_kept in reversed(progress.outcomes):
            if was_kept:
                break
            tail += 1
        if tail >= limits.plateau:
            return f"plateau: {tail} experiment(s) in a row without a gain"
    return ""


def due(finished: int, last: int, every: int) -> bool:
    """Is an advisor (director, critic) due after ``finished`` experiments, last run after ``last``?"""
    return every > 0 and finished - last >= every


def measure_text(row: Mapping[str, Any]) -> str:
    if row.get("mean") is None:
        return "no measure"
    return f"{row['mean']:.6g} ± {row.get('std') or 0:.2g}"


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an agent is shown of one results row."""
    return {
        "id": row["id"],
        "status": row.get("status", ""),
        "measure": measure_text(row),
        "hypothesis": row.get("hypothesis") or "(none)",
        "error": (row.get("error") or "")[:400],
    }


def memory(
    rows: Sequence[Mapping[str, Any]], direction: str, kept_k: int, other_k: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a worker is shown: the top kept experiments (best first) and the recent others."""
    experiments = [r for r in rows if r.get("status") != BASELINE]
    kept = [r for r in experiments if r.get("status") == KEPT]
    kept.sort(key=lambda r: r["mean"], reverse=direction == "max")
    others = [r for r in experiments if r.get("status") != KEPT][-other_k:] if other_k else []
    return [view(r) for r in kept[:kept_k]], [view(r) for r in others]


def rows_view(rows: Sequence[Mapping[str, Any]], last: int) -> list[dict[str, Any]]:
    """The last ``last`` experiments for the director and the critic, by number.

    Rows are in the order experiments finished, which parallel jobs and resumed experiments
    can make differ from their numbers' order.
    """
    shown = [view(r) for r in rows[-last:] if r.get("status") != BASELINE] if last > 0 else []
    return sorted(shown, key=lambda r: int(r["id"]))
