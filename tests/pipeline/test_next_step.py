"""Where a resumed build goes next: a pure decision over the record and the last attempt."""

from __future__ import annotations

import dataclasses

import pytest

from leanforge.pipeline.attempts import Attempt
from leanforge.pipeline.build import next_step
from leanforge.records import TaskRecord

RECORD = TaskRecord(
    slug="t",
    title="t",
    status="building",
    base_branch="main",
    base_commit="a",
    branch="forge/t",
    worktree="/w",
    lock_sha256="x",
    locked_files=(),
    holdout_count=0,
    created_at="",
    updated_at="",
)


@pytest.mark.parametrize(
    ("status", "attempt", "expected"),
    [
        ("specced", None, "new attempt"),
        ("building", Attempt(1, "t"), "engineer"),
        ("building", Attempt(1, "t", summary="s"), "gate"),
        (
            "building",
            Attempt(1, "t", summary="", engineer_error="x", outcome="engineer failed"),
            "new attempt",
        ),
        (
            "building",
            Attempt(1, "t", summary="s", gate_passed=False, outcome="gate failed"),
            "new attempt",
        ),
        ("gated", Attempt(1, "t", summary="s", gate_passed=True), "review"),
        ("reviewed", Attempt(1, "t", summary="s", gate_passed=True), "merge"),
        (
            "building",
            Attempt(1, "t", summary="s", gate_passed=True, outcome="conflict"),
            "new attempt",
        ),
        ("failed", Attempt(1, "t", summary="s", gate_passed=True), "review"),
    ],
)
def test_next_step(status: str, attempt: Attempt | None, expected: str) -> None:
    assert next_step(dataclasses.replace(RECORD, status=status), attempt) == expected


def test_a_merged_task_still_owes_its_playbook() -> None:
    merged = dataclasses.replace(RECORD, status="merged")
    assert next_step(merged, None) == "tech-lead"
    assert next_step(dataclasses.replace(merged, playbook_status="failed"), None) == "done"
