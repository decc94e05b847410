"""results.jsonl: one row per `forge build` of a task, appended under the repository lock."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from leanforge.pipeline.attempts import Attempt
from leanforge.pipeline.job import BuildJob
from leanforge.records import TaskRecord
from leanforge.state import RepoPaths, forge_lock

RESULTS_NAME = "results.jsonl"


def row(
    job: BuildJob,
    before: TaskRecord,
    after: TaskRecord,
    outcome: str,
    *,
    started: str,
    duration_s: float,
    attempts: Sequence[Attempt],
) -> dict[str, Any]:
    """The record of one build: pure data from the task before and after."""
    cost = {
        role: round(u.cost_usd - (before.usage[role].cost_usd if role in before.usage else 0.0), 6)
        for role, u in after.usage.items()
    }
    return {
        "slug": after.slug,
        "title": after.title,
        "outcome": outcome,
        "merged": after.status == "merged",
        "merged_commit": after.merged_commit,
        "status": after.status,
        "failure": after.failure,
        "started_at": started,
        "finished_at": job.now(),
        "duration_s": round(duration_s, 3),
        "attempts": after.attempts,
        "reviewers": job.reviewers,
        "cost_usd": round(sum(cost.values()), 6),
        "cost_by_role": cost,
        "total_cost_usd": round(after.cost_usd, 6),
        "playbook": after.playbook_status,
        "attempt_log": [
            {
                "number": a.number,
                "outcome": a.outcome or "in progress",
                "failed_gate_checks": [c.name for c in a.failed_checks],
                "verdicts": [
                    {
                        "reviewer": v.reviewer,
                        "lens": v.lens,
                        "approve": v.approve,
                        "blockers": [b.title for b in v.blockers],
                        "problem": v.problem,
                    }
                    for v in a.verdicts
                ],
                "merge": a.merge_detail,
            }
            for a in attempts
        ],
    }


def append(paths: RepoPaths, entry: dict[str, Any]) -> None:
    line = json.dumps(entry, sort_keys=True) + "\n"
    with forge_lock(paths):
        path = paths.state_dir / RESULTS_NAME
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def read(paths: RepoPaths) -> list[dict[str, Any]]:
    path = paths.state_dir / RESULTS_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
