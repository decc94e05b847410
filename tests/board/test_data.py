"""`leanforge.board.data`: what the board reads from a real repository's state, and the pure timeline."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import filelock
import pytest

from leanforge.agent.transcript import read as read_transcript
from leanforge.board import data
from leanforge.errors import UnknownTask
from leanforge.pipeline.attempts import Attempt, Blocker, Verdict
from leanforge.records import TaskRecord

ROW_KEYS = {
    "slug",
    "title",
    "status",
    "record_status",
    "attempts",
    "attempt_limit",
    "cost_usd",
    "duration_s",
    "reviewers",
    "updated_at",
    "merged_commit",
    "failure",
}


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold a filelock the way `forge build` and `forge lab run` do."""
    guard = filelock.FileLock(str(path), timeout=5)
    guard.acquire()
    try:
        yield
    finally:
        guard.release()


def rows_by_slug(board_repo: Any) -> dict[str, dict[str, Any]]:
    return {row["slug"]: row for row in data.task_rows(board_repo.forge())}


def test_task_rows_show_the_merged_and_the_failed_task(board_repo: Any) -> None:
    rows = data.task_rows(board_repo.forge())
    assert all(set(row) >= ROW_KEYS for row in rows)
    created = [row["created_at"] for row in rows]
    assert created == sorted(created, reverse=True), "newest first"
    by_slug = {row["slug"]: row for row in rows}
    merged, failed = by_slug["fix-add"], by_slug["fix-sub"]
    assert merged["status"] == merged["record_status"] == "merged"
    assert merged["merged_commit"] == board_repo.record("fix-add")["merged_commit"] != ""
    assert (merged["attempts"], merged["reviewers"]) == (1, 1)
    assert merged["duration_s"] is not None and merged["duration_s"] >= 0
    assert failed["status"] == "failed"
    assert (failed["attempts"], failed["attempt_limit"]) == (1, 1)
    assert "no attempt passed" in failed["failure"]
    assert json.loads(json.dumps(rows)) == rows  # plain JSON values only


def test_a_held_build_lock_shows_the_task_building(board_repo: Any) -> None:
    lock = board_repo.root / ".git/forge/tasks/fix-sub/build.lock"
    with held(lock):
        row = rows_by_slug(board_repo)["fix-sub"]
        assert (row["status"], row["record_status"]) == ("building", "failed")
        detail = data.task_detail(board_repo.forge(), "fix-sub")
        assert detail["status"] == "building"
    assert rows_by_slug(board_repo)["fix-sub"]["status"] == "failed"
    assert lock.is_file()


def test_a_corrupt_record_becomes_a_corrupt_row(board_repo: Any) -> None:
    folder = board_repo.root / ".git/forge/tasks/zz-broken"
    folder.mkdir()
    try:
        (folder / "task.json").write_text("{not json")
        row = rows_by_slug(board_repo)["zz-broken"]
        assert row["status"] == "corrupt" and "corrupted" in row["failure"]
        detail = data.task_detail(board_repo.forge(), "zz-broken")
        assert detail["status"] == "corrupt" and detail["timeline"] == []
    finally:
        shutil.rmtree(folder)


def test_a_corrupt_latest_attempt_shows_in_the_row_and_the_page(board_repo: Any) -> None:
    before = rows_by_slug(board_repo)["fix-add"]
    broken = board_repo.root / ".git/forge/tasks/fix-add/attempts/9999.json"
    broken.write_text("{not json")
    try:
        row = rows_by_slug(board_repo)["fix-add"]
        assert row["status"] == "merged" and row["reviewers"] == 0
        assert f"attempt file {broken} is corrupted" in row["failure"]
        detail = data.task_detail(board_repo.forge(), "fix-add")
        assert detail["failure"] == row["failure"]
        assert "attempt" not in [step["kind"] for step in detail["timeline"]]
    finally:
        broken.unlink()
    assert rows_by_slug(board_repo)["fix-add"] == before


def test_task_detail_starts_with_the_row(board_repo: Any) -> None:
    forge = board_repo.forge()
    for row in data.task_rows(forge):
        detail = data.task_detail(forge, row["slug"])
        assert {key: detail[key] for key in row if key != "duration_s"} == {
            key: value for key, value in row.items() if key != "duration_s"
        }


@pytest.mark.parametrize(
    "lines",
    [
        ['{"event": "start", "role": "engineer"}', '{"event": "end"}'],
        ['{"event": "note", "note": "no price"}', '{"event": "start", "role": "reviewer"}', "{}"],
        [
            '{"event": "start", "role": "tech_lead"}',
            "",
            "  ",
            '{"event": "tool"}',
            '{"event": "respo',
        ],
        ['{"event": "start", "role": "engineer"}', '{"event": "end"}', "[1, 2]"],
        ["not json", "[]", '{"event": "start"}', '{"event": "start", "role": "x"}', "{}"],
        ['{"event": "request"}', '{"event": "end"}'],
        ["", "{tor"],
        [],
    ],
)
def test_session_rows_count_what_the_reader_reads(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "20240102T030405-engineer-abc123.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines[:-1]) + "".join(lines[-1:]))
    events = list(read_transcript(path))
    starts = [str(e.get("role", "")) for e in events if e.get("event") == "start"]
    row = data._session_row(path)
    assert row["events"] == len(events)
    assert row["role"] == (next((r for r in starts if r), "") or "engineer")
    assert row["started_at"] == "2024-01-02T03:04:05Z"


def test_merged_task_detail(board_repo: Any) -> None:
    detail = data.task_detail(board_repo.forge(), "fix-add")
    assert (detail["base_branch"], detail["branch"]) == ("main", "forge/fix-add")
    assert detail["spec"].strip() and detail["lock_error"] == ""
    assert [t["path"] for t in detail["tests"]] == ["tests/test_calc.py"]
    assert "def test_add_negative" in detail["tests"][0]["text"]
    assert detail["holdout_count"] == 1
    # The merge commit against its first parent: the fix, the spec and the ratcheted tests.
    assert "+    return a + b" in detail["diff"] and "tests/test_calc.py" in detail["diff"]
    assert detail["diff_truncated"] is False
    kinds = [step["kind"] for step in detail["timeline"]]
    assert kinds == ["spec", "attempt", "merge", "playbook"]
    spec, attempt, merge, playbook = detail["timeline"]
    assert spec["detail"] == "1 locked file(s), 1 held out"
    assert (attempt["number"], attempt["status"], attempt["outcome"]) == (1, "passed", "merged")
    assert attempt["summary"] == "add adds now"
    gate = attempt["gate"]
    assert gate["passed"] is True and gate["run"] >= 1
    checks = {c["name"]: c for c in gate["checks"]}
    assert checks["held-out tests"] == {
        "name": "held-out tests",
        "passed": True,
        "detail": "held-out tests passed",
        "items": [],
    }
    assert [v["approve"] for v in attempt["verdicts"]] == [True]
    assert merge["status"] == "passed" and detail["merged_commit"][:12] in merge["detail"]
    assert playbook["status"] == "passed"
    assert detail["playbook_status"] == "committed" and detail["playbook_commit"]
    assert {"engineer", "reviewer", "tech_lead"} <= set(detail["cost_by_role"])
    assert detail["cost_by_role"]["engineer"]["calls"] >= 2
    roles = {s["role"] for s in detail["transcripts"]}
    assert {"engineer", "reviewer", "tech_lead"} <= roles
    assert all(s["events"] > 0 and s["started_at"].endswith("Z") for s in detail["transcripts"])
    # Held-out tests are a count, never their names or contents.
    text = json.dumps(detail)
    assert "test_commutes" not in text and "test_holdout" not in text


def test_failed_task_detail_shows_the_reviewers_blocker(board_repo: Any) -> None:
    detail = data.task_detail(board_repo.forge(), "fix-sub")
    assert detail["status"] == "failed" and detail["holdout_count"] == 0
    assert "calc_sub.py" in detail["diff"]
    kinds = [step["kind"] for step in detail["timeline"]]
    assert kinds == ["spec", "attempt"]
    attempt = detail["timeline"][1]
    assert (attempt["status"], attempt["outcome"]) == ("failed", "rejected")
    assert attempt["gate"]["passed"] is True
    (verdict,) = attempt["verdicts"]
    assert verdict["approve"] is False
    assert [b["title"] for b in verdict["blockers"]] == [board_repo.BLOCKER]
    assert verdict["blockers"][0]["counterexample"]
    assert verdict["session"] in {s["session"] for s in detail["transcripts"]}


def test_unknown_tasks_and_sessions(board_repo: Any) -> None:
    forge = board_repo.forge()
    with pytest.raises(UnknownTask):
        data.task_detail(forge, "no-such-task")
    with pytest.raises(UnknownTask):
        data.transcript(forge, "no-such-task", "x")
    for session in ("nope", "../task", "..", "a/b"):
        with pytest.raises(LookupError):
            data.transcript(forge, "fix-add", session)


def test_transcripts_read_back_as_events(board_repo: Any) -> None:
    forge = board_repo.forge()
    sessions = data.task_detail(forge, "fix-add")["transcripts"]
    engineer = next(s for s in sessions if s["role"] == "engineer")
    doc = data.transcript(forge, "fix-add", engineer["session"])
    assert doc["session"] == engineer["session"]
    assert len(doc["events"]) == engineer["events"]
    assert doc["events"][0]["event"] == "start" and doc["events"][0]["role"] == "engineer"
    assert doc["events"][-1]["event"] == "end"


def test_labs(board_repo: Any) -> None:
    forge = board_repo.forge()
    (row,) = data.lab_rows(forge)
    assert row["name"] == "speed" and row["error"] == ""
    assert (row["metric"], row["direction"], row["locked"]) == ("steps", "min", True)
    assert row["experiments"] == 2
    assert row["best"]["mean"] == 50.0 and row["baseline"]["mean"] == 100.0
    assert row["running"] is False and row["spent_usd"] >= 0
    detail = data.lab_detail(forge, "speed")
    assert [r["status"] for r in detail["rows"]] == ["baseline", "kept", "discarded"]
    assert detail["counts"] == {"baseline": 1, "kept": 1, "discarded": 1}
    with held(board_repo.root / ".git/forge/labs/speed/run.lock"):
        assert data.lab_detail(forge, "speed")["running"] is True
        assert data.lab_rows(forge)[0]["running"] is True
    with pytest.raises(LookupError):
        data.lab_detail(forge, "no-such-lab")


def test_playbook_is_the_committed_one(board_repo: Any) -> None:
    assert "add must add, not subtract" in data.playbook(board_repo.forge())


def test_version_changes_with_the_state(board_repo: Any) -> None:
    forge = board_repo.forge()
    before = data.version(forge)
    assert data.version(forge) == before
    # Taking a lock (the board itself does) is not a change.
    with held(board_repo.root / ".git/forge/tasks/fix-add/build.lock"):
        assert data.version(forge) == before
    record = board_repo.root / ".git/forge/tasks/fix-add/task.json"
    stat = record.stat()
    os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    try:
        assert data.version(forge) != before
    finally:
        os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.version(forge) == before


# -- the timeline, pure -------------------------------------------------------------------------


def record(**changes: Any) -> TaskRecord:
    values: dict[str, Any] = {
        "slug": "t",
        "title": "t",
        "status": "building",
        "base_branch": "main",
        "base_commit": "0" * 40,
        "branch": "forge/t",
        "worktree": "/w",
        "lock_sha256": "0" * 64,
        "locked_files": ("tests/test_t.py",),
        "holdout_count": 2,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:01:00Z",
    }
    return TaskRecord(**(values | changes))


def test_timeline_marks_the_last_attempt_running_while_building() -> None:
    rejected = Attempt(
        number=1,
        started_at="2026-01-01T00:00:10Z",
        summary="did it",
        gate_run=1,
        gate_passed=True,
        verdicts=(Verdict(1, "correctness", False, (Blocker("wrong", "d", "c"),)),),
        outcome="rejected",
    )
    running = Attempt(number=2, started_at="2026-01-01T00:00:50Z")
    steps = data.timeline(record(), [rejected, running], {1: None}, building=True, visible=1)
    assert [s["kind"] for s in steps] == ["spec", "attempt", "attempt"]
    assert steps[0]["detail"] == "1 locked file(s), 2 held out"
    assert [s["status"] for s in steps[1:]] == ["failed", "running"]
    assert steps[1]["verdicts"][0]["blockers"] == [
        {"title": "wrong", "detail": "d", "counterexample": "c"}
    ]
    assert steps[2]["summary"] == "" and steps[2]["gate"] is None
    # The same attempt with nobody building it was interrupted, not running.
    stopped = data.timeline(record(), [rejected, running], {}, building=False, visible=1)
    assert stopped[2]["status"] == "stopped"
    failed = data.timeline(record(status="failed"), [running], {}, building=False, visible=1)
    assert failed[1]["status"] == "failed"


def test_timeline_of_a_merged_task_ends_with_merge_and_playbook() -> None:
    merged = record(
        status="merged",
        merged_commit="a" * 40,
        playbook_status="skipped",
    )
    done = Attempt(number=1, started_at="x", outcome="merged", merge_detail="merged into main")
    steps = data.timeline(merged, [done], {}, building=False, visible=1)
    assert [(s["kind"], s["status"]) for s in steps] == [
        ("spec", "passed"),
        ("attempt", "passed"),
        ("merge", "passed"),
        ("playbook", "skipped"),
    ]
    assert steps[2]["detail"] == "merged into main as aaaaaaaaaaaa"
