"""Gate decisions: pure functions that fail closed."""

from __future__ import annotations

import pytest

from leanforge.gate.decide import (
    judge_agreement,
    judge_canary,
    judge_inverted,
    judge_project,
    judge_tests,
)
from leanforge.gate.junit import ERROR, FAILED, PASSED, SKIPPED, Case
from leanforge.gate.report import Check
from leanforge.gate.testfiles import ExpectedTest

MOD = "tests.test_calc"
ADD = ExpectedTest("tests/test_calc.py", "", "test_add", invertible=True)
NEG = ExpectedTest("tests/test_calc.py", "TestCalc", "test_negative", invertible=True)
LOOP = ExpectedTest("tests/test_calc.py", "", "test_loop", invertible=False)
EXPECTED = (ADD, NEG)


def case(test: ExpectedTest, outcome: str = PASSED, suffix: str = "", message: str = "") -> Case:
    return Case(test.classname, test.function + suffix, outcome, message)


# --- judge_tests -----------------------------------------------------------------------------


def test_all_expected_tests_passed() -> None:
    check = judge_tests("locked", [case(ADD), case(NEG)], EXPECTED)
    assert check == Check("locked", True, "2 test(s) passed")


def test_a_missing_test_fails_and_is_named() -> None:
    check = judge_tests("locked", [case(ADD)], EXPECTED)
    assert not check.passed
    assert check.items == (
        "tests/test_calc.py::TestCalc::test_negative missing from the report (not run)",
    )
    assert "TestCalc::test_negative" in check.detail


def test_a_test_in_the_wrong_class_does_not_count() -> None:
    wrong_class = Case(f"{MOD}.TestOther", "test_negative", PASSED)
    assert not judge_tests("locked", [case(ADD), wrong_class], EXPECTED).passed


@pytest.mark.parametrize("outcome", [FAILED, ERROR, SKIPPED])
def test_anything_but_passed_fails(outcome: str) -> None:
    bad = case(NEG, outcome, message="first line of why\nsecond line")
    check = judge_tests("locked", [case(ADD), bad], EXPECTED)
    assert not check.passed
    assert check.items == (
        f"tests/test_calc.py::TestCalc::test_negative {outcome}: first line of why",
    )


def test_an_xfail_reported_as_skipped_fails() -> None:
    xfailed = case(ADD, SKIPPED, message="known bug")
    check = judge_tests("locked", [xfailed, case(NEG)], EXPECTED)
    assert not check.passed
    assert check.items == ("tests/test_calc.py::test_add skipped: known bug",)


def test_parametrized_cases_must_all_pass() -> None:
    good = [case(ADD, suffix="[1]"), case(ADD, suffix="[2]"), case(NEG)]
    assert judge_tests("locked", good, EXPECTED).passed
    bad = [case(ADD, suffix="[1]"), case(ADD, FAILED, suffix="[2]"), case(NEG)]
    check = judge_tests("locked", bad, EXPECTED)
    assert not check.passed
    assert check.items == ("tests/test_calc.py::test_add[2] failed",)


def test_a_collection_error_of_a_locked_module_fails() -> None:
    broken = Case("", MOD, ERROR, "collection failure\nE   ImportError: boom")
    check = judge_tests("locked", [broken], EXPECTED)
    assert not check.passed
    assert f"{MOD} error: collection failure" in check.items
    assert len(check.items) == 3  # both tests missing, plus the module's error


def test_a_collection_error_of_an_unrelated_module_is_not_ours() -> None:
    other = Case("", "tests.test_calc_extra", ERROR, "collection failure")
    assert judge_tests("locked", [case(ADD), case(NEG), other], EXPECTED).passed


def test_an_unexpected_failure_inside_a_locked_module_fails() -> None:
    extra = Case(MOD, "test_generated", FAILED, "boom")
    check = judge_tests("locked", [case(ADD), case(NEG), extra], EXPECTED)
    assert not check.passed
    assert check.items == (f"{MOD}::test_generated failed: boom",)
    extra_pass = Case(MOD, "test_generated", PASSED)
    assert judge_tests("locked", [case(ADD), case(NEG), extra_pass], EXPECTED).passed


def test_no_report_fails_with_how_the_run_died() -> None:
    check = judge_tests("locked", None, EXPECTED, died="exit code 0, last output: bye")
    assert not check.passed
    assert "no junit report" in check.detail
    assert "exit code 0, last output: bye" in check.detail
    assert "no output" in judge_tests("locked", None, EXPECTED).detail


def test_nothing_expected_passes_even_without_a_report() -> None:
    assert judge_tests("holdout", None, ()).passed


def test_many_problems_are_summarised_and_capped() -> None:
    many = tuple(ExpectedTest("tests/test_calc.py", "", f"test_{i}", True) for i in range(30))
    check = judge_tests("locked", [], many)
    assert not check.passed
    assert check.detail.startswith("30 problem(s): ")
    assert check.detail.endswith("and 27 more")
    assert len(check.items) == 20


# --- judge_canary ----------------------------------------------------------------------------

CANARY = ("test_forge_canary_abc123", "test_forge_canary_abc123")


def test_a_failed_canary_is_ok() -> None:
    cases = [Case(CANARY[0], CANARY[1], FAILED, "forge canary")]
    assert judge_canary("canary", cases, *CANARY).passed


@pytest.mark.parametrize("outcome", [PASSED, SKIPPED, ERROR])
def test_a_canary_that_did_not_fail_means_tampering(outcome: str) -> None:
    check = judge_canary("canary", [Case(CANARY[0], CANARY[1], outcome)], *CANARY)
    assert not check.passed
    assert "tampered" in check.detail and outcome in check.detail


def test_a_missing_canary_fails() -> None:
    other_module = [Case("tests.test_calc", CANARY[1], FAILED)]
    check = judge_canary("canary", other_module, *CANARY)
    assert not check.passed
    assert "missing" in check.detail
    assert not judge_canary("canary", None, *CANARY).passed


# --- judge_inverted --------------------------------------------------------------------------


def test_inverted_tests_that_fail_are_fine() -> None:
    original = [case(ADD), case(NEG)]
    inverted = [case(ADD, FAILED), case(NEG, FAILED)]
    check = judge_inverted("inverted", inverted, original, EXPECTED)
    assert check == Check("inverted", True, "2 inverted test(s) failed as they must")


def test_an_inverted_test_that_passes_is_forced() -> None:
    original = [case(ADD), case(NEG)]
    inverted = [case(ADD, FAILED), case(NEG, PASSED)]
    check = judge_inverted("inverted", inverted, original, EXPECTED)
    assert not check.passed
    assert check.items == ("tests/test_calc.py::TestCalc::test_negative",)
    assert "forces outcomes" in check.detail


def test_only_tests_whose_original_passed_count() -> None:
    original = [case(ADD, FAILED), case(NEG)]
    inverted = [case(ADD, PASSED), case(NEG, FAILED)]
    check = judge_inverted("inverted", inverted, original, EXPECTED)
    assert check.passed
    assert check.detail.startswith("1 inverted")


def test_a_parametrized_original_counts_only_if_every_case_passed() -> None:
    original = [case(ADD, suffix="[1]"), case(ADD, FAILED, suffix="[2]")]
    inverted = [case(ADD, PASSED, suffix="[1]"), case(ADD, PASSED, suffix="[2]")]
    assert judge_inverted("inverted", inverted, original, (ADD,)).passed
    original_ok = [case(ADD, suffix="[1]"), case(ADD, suffix="[2]")]
    assert not judge_inverted("inverted", inverted, original_ok, (ADD,)).passed


def test_non_invertible_tests_are_ignored() -> None:
    assert judge_inverted("inverted", [case(LOOP)], [case(LOOP)], (LOOP,)).passed
    check = judge_inverted(
        "inverted", [case(LOOP), case(ADD, FAILED)], [case(LOOP), case(ADD)], (LOOP, ADD)
    )
    assert check.passed and check.detail.startswith("1 inverted")


def test_an_inverted_twin_missing_from_its_report_fails() -> None:
    original = [case(ADD), case(NEG)]
    inverted = [case(ADD, FAILED)]  # NEG's twin never ran: dropped by something in the run
    check = judge_inverted("inverted", inverted, original, EXPECTED)
    assert not check.passed
    assert check.items == ("tests/test_calc.py::TestCalc::test_negative",)
    assert "missing" in check.detail


def test_a_missing_inverted_report_fails() -> None:
    assert not judge_inverted("inverted", None, [case(ADD)], (ADD,)).passed
    assert judge_inverted("inverted", None, [case(LOOP)], (LOOP,)).passed  # nothing to invert


# --- judge_project ---------------------------------------------------------------------------


def test_project_pytest_like_clean() -> None:
    cases = [Case("tests.test_a", "test_x", PASSED), Case("tests.test_a", "test_y", SKIPPED)]
    assert judge_project("project", 0, False, cases, pytest_like=True).passed


@pytest.mark.parametrize("outcome", [FAILED, ERROR])
def test_project_pytest_like_failures_are_named(outcome: str) -> None:
    cases = [Case("tests.test_a", "test_x", PASSED), Case("tests.test_a", "test_y", outcome)]
    check = judge_project("project", 1, False, cases, pytest_like=True)
    assert not check.passed
    assert check.items == (f"tests.test_a::test_y {outcome}",)


def test_project_pytest_like_needs_junit_and_a_zero_exit() -> None:
    no_report = judge_project("project", 0, False, None, pytest_like=True)
    assert not no_report.passed and "no junit report" in no_report.detail
    cases = [Case("tests.test_a", "test_x", PASSED)]
    exited = judge_project("project", 3, False, cases, pytest_like=True)
    assert not exited.passed and "exited 3" in exited.detail
    nothing_collected = judge_project("project", 5, False, [], pytest_like=True)
    assert not nothing_collected.passed


def test_project_other_commands_go_by_exit_code() -> None:
    assert judge_project("project", 0, False, None, pytest_like=False).passed
    assert not judge_project("project", 2, False, None, pytest_like=False).passed
    failing = [Case("x", "y", FAILED)]
    assert judge_project("project", 0, False, failing, pytest_like=False).passed


@pytest.mark.parametrize("pytest_like", [True, False])
def test_project_timeout_fails(pytest_like: bool) -> None:
    check = judge_project("project", 0, True, [], pytest_like=pytest_like)
    assert not check.passed and "timed out" in check.detail


# --- judge_agreement -------------------------------------------------------------------------

OK, BAD = Check("a", True, ""), Check("b", False, "")


def test_passing_only_with_the_engineers_setup_is_suspect() -> None:
    check = judge_agreement("agree", BAD, OK, ["tests/conftest.py", "pytest.ini"])
    assert not check.passed
    assert "tests/conftest.py, pytest.ini" in check.detail
    assert check.items == ("tests/conftest.py", "pytest.ini")
    default = judge_agreement("agree", BAD, OK, [])
    assert not default.passed and "conftest.py" in default.detail


@pytest.mark.parametrize(("a", "b"), [(OK, OK), (BAD, BAD), (OK, BAD)])
def test_other_combinations_agree(a: Check, b: Check) -> None:
    assert judge_agreement("agree", a, b, ["tests/conftest.py"]).passed
