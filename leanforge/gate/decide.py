"""Gate decisions as pure functions: junit cases and facts in, a Check out.

Every rule fails closed. A test counts only if junit shows it, by the id the AST promised, and
shows it passed: skipped, xfailed, xpassed (strict), errored and missing all fail.
"""

from __future__ import annotations

from collections.abc import Sequence

from leanforge.gate.junit import FAILED, PASSED, Case
from leanforge.gate.report import Check
from leanforge.gate.testfiles import ExpectedTest, module_name

MAX_ITEMS = 20


Index = dict[tuple[str, str], list[Case]]


def index(cases: Sequence[Case]) -> Index:
    """Cases by (classname, function), so judging is linear in the suite's size."""
    by_id: Index = {}
    for case in cases:
        by_id.setdefault((case.classname, case.function), []).append(case)
    return by_id


def reported_all(cases: Sequence[Case] | None, tests: Sequence[ExpectedTest]) -> bool:
    """Does the report hold at least one case for every one of ``tests``?"""
    by_id = index(cases or ())
    return all(_cases_for(by_id, t) for t in tests)


def _cases_for(by_id: Index, test: ExpectedTest) -> list[Case]:
    return by_id.get((test.classname, test.function), [])


def _belongs(case: Case, modules: set[str]) -> bool:
    """Is ``case`` from a locked file (collection errors report the module as the name)?"""
    return any(
        case.classname == m
        or case.classname.startswith(m + ".")
        or (not case.classname and case.name in (m, m.replace(".", "/") + ".py"))
        for m in modules
    )


def _summary(items: list[str]) -> str:
    shown = "; ".join(items[:3])
    return shown + (f"; and {len(items) - 3} more" if len(items) > 3 else "")


def judge_tests(
    name: str,
    cases: Sequence[Case] | None,
    expected: Sequence[ExpectedTest],
    *,
    died: str = "",
) -> Check:
    """Did every expected test run and pass? ``died`` describes the run if junit is missing."""
    if not expected:
        return Check(name, True, "no tests of this kind")
    if cases is None:
        return Check(
            name, False, f"no junit report: the test run did not finish ({died or 'no output'})"
        )
    problems: list[str] = []
    by_id = index(cases)
    for test in expected:
        found = _cases_for(by_id, test)
        if not found:
            problems.append(f"{test.label} missing from the report (not run)")
        for case in found:
            if case.outcome != PASSED:
                first = case.message.splitlines()[0] if case.message else ""
                problems.append(
                    f"{test.label}{case.name[len(case.function) :]} {case.outcome}"
                    + (f": {first[:120]}" if first else "")
                )
    modules = {module_name(t.path) for t in expected}
    known = {(t.classname, t.function) for t in expected}
    for case in cases:
        if (
            _belongs(case, modules)
            and (case.classname, case.function) not in known
            and case.outcome != PASSED
        ):
            first = case.message.splitlines()[0] if case.message else ""
            problems.append(f"{case.label} {case.outcome}" + (f": {first[:120]}" if first else ""))
    if problems:
        return Check(
            name,
            False,
            f"{len(problems)} problem(s): {_summary(problems)}",
            tuple(problems[:MAX_ITEMS]),
        )
    return Check(name, True, f"{len(expected)} test(s) passed")


def judge_canary(name: str, cases: Sequence[Case] | None, classname: str, function: str) -> Check:
    """The canary must be reported, and reported failed: anything else means a tampered runner."""
    if cases is None:
        return Check(name, False, "no junit report, so the canary could not be checked")
    found = [c for c in cases if c.classname == classname and c.function == function]
    if not found:
        return Check(
            name,
            False,
            "the canary test is missing from the report: the run was cut short or filtered",
        )
    if any(c.outcome != FAILED for c in found):
        return Check(
            name,
            False,
            f"a test that must fail was reported {found[0].outcome}: the test runner was tampered with",
        )
    return Check(name, True, "a test that must fail did fail")


def judge_inverted(
    name: str,
    inverted: Sequence[Case] | None,
    original: Sequence[Case] | None,
    expected: Sequence[ExpectedTest],
) -> Check:
    """Each invertible test that passed must fail with its assertions inverted."""
    candidates = [t for t in expected if t.invertible]
    if not candidates:
        return Check(name, True, "no test has a top-level assert to invert")
    if inverted is None:
        return Check(name, False, "no junit report from the inverted run")
    originals, twins = index(original or ()), index(inverted)
    passed_originals = [
        t
        for t in candidates
        if (found := _cases_for(originals, t)) and all(c.outcome == PASSED for c in found)
    ]
    forced = [
        t.label for t in passed_originals if any(c.outcome == PASSED for c in _cases_for(twins, t))
    ]
    missing = [t.label for t in passed_originals if not _cases_for(twins, t)]
    if missing:
        return Check(
            name,
            False,
            f"{len(missing)} inverted test(s) missing from their run: something drops the locked tests ({_summary(missing)})",
            tuple(missing[:MAX_ITEMS]),
        )
    if forced:
        return Check(
            name,
            False,
            f"{len(forced)} test(s) still passed with their assertions inverted: something forces outcomes for the locked tests ({_summary(forced)})",
            tuple(forced[:MAX_ITEMS]),
        )
    if not passed_originals:
        return Check(name, True, "no locked test passed, so there was nothing to invert")
    return Check(name, True, f"{len(passed_originals)} inverted test(s) failed as they must")


def judge_project(
    name: str, returncode: int, timed_out: bool, cases: Sequence[Case] | None, pytest_like: bool
) -> Check:
    """The project's own suite: junit clean when it is pytest, else the exit code alone."""
    if timed_out:
        return Check(name, False, "the project's test command timed out")
    if pytest_like:
        if cases is None:
            return Check(
                name,
                False,
                f"the project's test command wrote no junit report (exit code {returncode})",
            )
        bad = [f"{c.label} {c.outcome}" for c in cases if c.outcome in ("failed", "error")]
        if bad:
            return Check(
                name, False, f"{len(bad)} failing: {_summary(bad)}", tuple(bad[:MAX_ITEMS])
            )
        if returncode != 0:
            return Check(name, False, f"the project's test command exited {returncode}")
        if not cases:
            return Check(
                name,
                False,
                "the project's test command ran no tests (the locked tests live in the worktree)",
            )
        return Check(name, True, f"{len(cases)} test(s), none failing")
    if returncode != 0:
        return Check(name, False, f"the project's test command exited {returncode}")
    return Check(name, True, "the project's test command exited 0")


def judge_agreement(
    name: str, without_engineer: Check, with_engineer: Check, suspects: Sequence[str]
) -> Check:
    """Pass A failing while pass B passes means the engineer's test setup changes outcomes."""
    if not without_engineer.passed and with_engineer.passed:
        blame = ", ".join(suspects) if suspects else "their pytest configuration or conftest.py"
        return Check(
            name,
            False,
            f"the locked tests fail on their own but pass with the engineer's test setup: suspect {blame}",
            tuple(suspects),
        )
    return Check(name, True, "both passes agree")
