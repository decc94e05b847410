"""What agents are told: attempt history and gate reports, held-out names redacted."""

from __future__ import annotations

from leanforge.gate.report import Check, GateReport
from leanforge.pipeline.attempts import Attempt, Blocker, FailedCheck, Verdict
from leanforge.pipeline.history import (
    HIDDEN,
    Redactor,
    conflict_text,
    failed_checks,
    gate_text,
    history_text,
)

HOLDOUT = {"holdout/test_secret.py": b"def test_tricky_edge():\n    assert True\n"}


def report(*checks: Check) -> GateReport:
    return GateReport("t", 1, "abc", "bwrap", "now", 1.0, checks)


def test_the_redactor_hides_held_out_paths_modules_and_test_names() -> None:
    redact = Redactor(HOLDOUT)
    text = redact("holdout/test_secret.py::test_tricky_edge failed; holdout.test_secret too")
    assert "secret" not in text and "tricky" not in text and HIDDEN in text
    assert redact("tests/test_calc.py::test_add failed") == "tests/test_calc.py::test_add failed"


def test_failed_held_out_tests_are_reduced_to_a_count() -> None:
    checks = failed_checks(
        report(
            Check(
                "held-out tests", False, "1 failed: test_tricky_edge", ("test_tricky_edge failed",)
            ),
            Check(
                "inverted canary", False, "holdout/test_secret.py::test_tricky_edge passed", ("x",)
            ),
            Check("lock", True, "fine"),
        ),
        Redactor(HOLDOUT),
    )
    assert [c.name for c in checks] == ["held-out tests", "inverted canary"]
    assert "1 held-out test(s) failed" in checks[0].detail and checks[0].items == ()
    assert "tricky" not in checks[1].detail


def test_gate_text_lists_every_check() -> None:
    text = gate_text(
        report(
            Check("pass A", True, "2 passed"),
            Check("held-out tests", True, "test_tricky_edge passed"),
        ),
        Redactor(HOLDOUT),
    )
    assert "pass pass A: 2 passed" in text and "tricky" not in text and "PASSED" in text


def test_history_covers_gate_failures_blockers_and_conflicts() -> None:
    attempts = [
        Attempt(
            1,
            "t",
            summary="first",
            failed_checks=(FailedCheck("pass A", "test_add failed", ("test_add",)),),
            outcome="gate failed",
        ),
        Attempt(
            2,
            "t",
            summary="second",
            verdicts=(
                Verdict(
                    1, "security", False, (Blocker("eval", "uses eval", "add('1', '__import__')"),)
                ),
                Verdict(2, "correctness", True),
            ),
            outcome="rejected",
        ),
        Attempt(
            3,
            "t",
            summary="third",
            merge_detail="main moved and conflicts in calc.py",
            outcome="conflict",
        ),
        Attempt(4, "t"),
    ]
    text = history_text(attempts)
    assert "Attempt 1: gate failed" in text and "pass A" in text and "test_add" in text
    assert (
        "blocker **eval**" in text
        and "__import__" in text
        and "reviewer 2 (correctness) approved" in text
    )
    assert "conflicts in calc.py" in text and "Attempt 4" not in text
    assert history_text([]) == ""


def test_conflict_text_names_the_files() -> None:
    assert conflict_text("main", []) == ""
    text = conflict_text("main", ["calc.py"])
    assert "`calc.py`" in text and "<<<<<<<" in text
