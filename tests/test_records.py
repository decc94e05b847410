"""Task records: the state machine and a strict JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from leanforge.errors import InvalidTransition
from leanforge.records import (
    BUILDING,
    FAILED,
    GATED,
    MERGED,
    REVIEWED,
    SPECCED,
    STATUSES,
    Event,
    TaskRecord,
    Usage,
    from_json,
    to_json,
    transition,
)

T0, T1 = "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z"


def make_record(status: str = SPECCED, **changes: Any) -> TaskRecord:
    record = TaskRecord(
        slug="fix-add",
        title="make add add",
        status=status,
        base_branch="main",
        base_commit="a" * 40,
        branch="forge/fix-add",
        worktree="/repo/.git/forge-worktrees/fix-add",
        lock_sha256="b" * 64,
        locked_files=("tests/test_calc.py",),
        holdout_count=1,
        created_at=T0,
        updated_at=T0,
        history=(Event(at=T0, status=status, note="tests locked by hand"),),
    )
    return dataclasses.replace(record, **changes)


# The path a task takes, the retries, and the failures, written out rather than read from the table.
ALLOWED = [
    (SPECCED, BUILDING),
    (SPECCED, FAILED),
    (BUILDING, BUILDING),
    (BUILDING, GATED),
    (BUILDING, FAILED),
    (GATED, REVIEWED),
    (GATED, BUILDING),
    (GATED, FAILED),
    (REVIEWED, MERGED),
    (REVIEWED, BUILDING),
    (REVIEWED, FAILED),
    (FAILED, BUILDING),
]
FORBIDDEN = [
    (SPECCED, REVIEWED),
    (SPECCED, MERGED),
    (BUILDING, REVIEWED),  # a build must pass the gate before review
    (BUILDING, MERGED),
    (GATED, MERGED),  # a gated build must be reviewed before merging
    (FAILED, MERGED),
    (FAILED, REVIEWED),
    *[(MERGED, status) for status in STATUSES],  # merged is terminal
    *[(status, SPECCED) for status in STATUSES if status != MERGED],  # nothing is re-specced
    (SPECCED, "bogus"),
]


@pytest.mark.parametrize(("start", "end"), ALLOWED)
def test_allowed_transitions(start: str, end: str) -> None:
    moved = transition(make_record(start), end, T1)
    assert moved.status == end


@pytest.mark.parametrize(("start", "end"), FORBIDDEN)
def test_forbidden_transitions_raise(start: str, end: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        transition(make_record(start), end, T1)
    message = str(caught.value)
    assert f"is {start}" in message and f"cannot become {end}" in message
    assert "\n" not in message


def test_transition_appends_history_and_applies_changes() -> None:
    record = make_record(SPECCED)
    moved = transition(record, BUILDING, T1, note="attempt 1", attempts=1)
    assert moved.updated_at == T1
    assert moved.attempts == 1
    assert moved.history == (*record.history, Event(at=T1, status=BUILDING, note="attempt 1"))
    again = transition(moved, GATED, "2025-01-01T00:09:00Z", last_gate_passed=True)
    assert [e.status for e in again.history] == [SPECCED, BUILDING, GATED]
    assert again.last_gate_passed is True


def test_transition_is_pure() -> None:
    record = make_record(SPECCED)
    transition(record, BUILDING, T1, attempts=1)
    assert record == make_record(SPECCED)


def test_cost_sums_usage_over_roles() -> None:
    record = make_record(usage={"engineer": Usage(cost_usd=1.25), "reviewer": Usage(cost_usd=0.5)})
    assert record.cost_usd == pytest.approx(1.75)
    assert make_record().cost_usd == 0


def full_record() -> TaskRecord:
    return make_record(
        REVIEWED,
        spec_commit="c" * 40,
        attempts=2,
        gate_runs=3,
        last_gate_passed=True,
        locked_files=("tests/test_a.py", "tests/test_b.py"),
        usage={
            "engineer": Usage(
                input_tokens=10,
                output_tokens=20,
                cache_write_5m_tokens=30,
                cache_read_tokens=40,
                cost_usd=0.75,
            )
        },
        history=(Event(T0, SPECCED), Event(T1, BUILDING, "go"), Event(T1, GATED)),
    )


def test_json_round_trip_through_text() -> None:
    record = full_record()
    text = json.dumps(to_json(record))
    assert from_json(json.loads(text)) == record


def test_to_json_is_plain_json() -> None:
    data = to_json(full_record())
    assert data["locked_files"] == ["tests/test_a.py", "tests/test_b.py"]
    assert data["usage"]["engineer"]["output_tokens"] == 20
    assert data["history"][1] == {"at": T1, "status": BUILDING, "note": "go"}


def test_optional_fields_default_when_absent() -> None:
    data = to_json(make_record())
    for optional in ("usage", "history", "attempts", "merged_commit"):
        del data[optional]
    record = from_json(data)
    assert (record.usage, record.history, record.attempts, record.merged_commit) == ({}, (), 0, "")


def test_from_json_rejects_unknown_fields() -> None:
    data = {**to_json(make_record()), "approved_by": "me"}
    with pytest.raises(ValueError, match="approved_by"):
        from_json(data)


def test_from_json_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="shipped"):
        from_json({**to_json(make_record()), "status": "shipped"})


@pytest.mark.parametrize(
    "name", ["slug", "title", "base_commit", "branch", "worktree", "lock_sha256"]
)
def test_from_json_rejects_non_string_identity_fields(name: str) -> None:
    with pytest.raises(TypeError, match=name):
        from_json({**to_json(make_record()), name: 42})


def test_from_json_rejects_missing_fields_and_bad_nested_values() -> None:
    data = to_json(make_record())
    with pytest.raises(KeyError):
        from_json({k: v for k, v in data.items() if k != "locked_files"})
    with pytest.raises(TypeError):
        from_json({k: v for k, v in data.items() if k != "slug"})
    with pytest.raises(TypeError):
        from_json({**data, "usage": {"engineer": {"dollars": 3}}})
    with pytest.raises(TypeError):
        from_json({**data, "history": [{"at": T0}]})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("locked_files", "tests/test_calc.py"),  # not split into characters
        ("locked_files", [1, 2]),
        ("attempts", "3"),
        ("attempts", True),  # a bool is not a count
        ("holdout_count", 1.5),
        ("base_branch", 7),
        ("last_gate_passed", "yes"),
        ("usage", []),
        ("history", {}),
    ],
)
def test_from_json_rejects_other_wrong_types(name: str, value: object) -> None:
    with pytest.raises(TypeError):
        from_json({**to_json(make_record()), name: value})


def test_an_unknown_last_gate_result_may_be_null() -> None:
    assert from_json({**to_json(make_record()), "last_gate_passed": None}).last_gate_passed is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("usage", {"engineer": {"cost_usd": "free"}}),
        ("usage", {"engineer": {"input_tokens": "many"}}),
        ("history", [{"at": 5, "status": 7}]),
    ],
)
def test_from_json_rejects_wrong_types_inside_usage_and_history(name: str, value: object) -> None:
    with pytest.raises(TypeError):
        from_json({**to_json(make_record()), name: value})
