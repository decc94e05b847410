"""A task's timeline: the story the task page tells, built from its record and attempts. Pure.

:func:`timeline` turns a task record, its attempts and their (already redacted) gate reports
into a list of plain dicts, oldest first: the locked spec, each attempt with its status, gate
and reviewers' verdicts, then the merge and the playbook update when they happened. No I/O:
:mod:`leanforge.board.data` reads the state and passes it in, which keeps this testable alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from leanforge.pipeline.attempts import MERGED, RETRY, Attempt
from leanforge.records import FAILED, REVIEWED, TaskRecord


def _attempt_status(attempt: Attempt, last: bool, record: TaskRecord, building: bool) -> str:
    if attempt.outcome == MERGED:
        return "passed"
    if attempt.outcome in RETRY:
        return "failed"
    if last and record.status == REVIEWED:
        return "passed"  # approved, waiting for its merge (`--no-merge`)
    if last and building:
        return "running"
    return "failed" if record.status == FAILED else "stopped"


def timeline(
    record: TaskRecord,
    attempts: Sequence[Attempt],
    gates: Mapping[int, dict[str, Any] | None],
    building: bool,
    visible: int,
) -> list[dict[str, Any]]:
    """The task's story, oldest first: spec, each attempt, the merge, the playbook. Pure."""
    steps: list[dict[str, Any]] = [
        {
            "kind": "spec",
            "at": record.created_at,
            "status": "passed",
            "detail": f"{visible} locked file(s), {record.holdout_count} held out",
        }
    ]
    for index, a in enumerate(attempts):
        steps.append(
            {
                "kind": "attempt",
                "number": a.number,
                "at": a.started_at,
                "status": _attempt_status(a, index == len(attempts) - 1, record, building),
                "outcome": a.outcome,
                "summary": a.summary or "",
                "engineer_error": a.engineer_error,
                "gate": gates.get(a.number),
                "verdicts": [
                    {
                        "reviewer": v.reviewer,
                        "lens": v.lens,
                        "approve": v.approve,
                        "blockers": [
                            {
                                "title": b.title,
                                "detail": b.detail,
                                "counterexample": b.counterexample,
                            }
                            for b in v.blockers
                        ],
                        "notes": v.notes,
                        "problem": v.problem,
                        "session": Path(v.transcript).stem if v.transcript else "",
                    }
                    for v in sorted(a.verdicts, key=lambda v: v.reviewer)
                ],
                "merge_detail": a.merge_detail,
            }
        )
    if record.merged_commit:
        at = next((e.at for e in record.history if e.status == "merged"), record.updated_at)
        steps.append(
            {
                "kind": "merge",
                "at": at,
                "status": "passed",
                "detail": f"merged into {record.base_branch} as {record.merged_commit[:12]}",
            }
        )
    if record.playbook_status:
        status = {"committed": "passed", "failed": "failed"}.get(record.playbook_status, "skipped")
        detail = record.playbook_status
        if record.playbook_commit:
            detail += f" as {record.playbook_commit[:12]}"
        steps.append(
            {"kind": "playbook", "at": record.updated_at, "status": status, "detail": detail}
        )
    return steps
