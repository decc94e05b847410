"""Red before green: locked tests must fail on the base commit, and fail for the right reason.

A pure decision over the junit cases of one isolated run against the base.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from leanforge.gate.junit import ERROR, FAILED, PASSED, SKIPPED, Case
from leanforge.gate.testfiles import ExpectedTest, module_name

#: Import-time failures that mean "the thing under test does not exist yet": a fine way to be red.
MISSING_NAME = re.compile(r"\b(ImportError|ModuleNotFoundError|AttributeError|NameError)\b")


@dataclass(frozen=True)
class Verdict:
    problems: tuple[str, ...]  # refuse the spec for these
    passing: tuple[str, ...]  # tests that already pass (refused unless allowed)
    red: int  # tests that fail properly

    def ok(self, allow_passing: bool) -> bool:
        return not self.problems and (allow_passing or not self.passing)


def _last_error_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip().startswith("E ")]
    return (lines[-1][1:].strip() if lines else message.splitlines()[0] if message else "")[:160]


def judge(cases: Sequence[Case], expected: Sequence[ExpectedTest], paths: Sequence[str]) -> Verdict:
    problems: list[str] = []
    passing: list[str] = []
    red = 0
    broken_modules: set[str] = set()
    for path in paths:
        module = module_name(path)
        for case in cases:
            if case.classname or case.name != module or case.outcome != ERROR:
                continue
            broken_modules.add(module)
            if "SyntaxError" in case.message or "IndentationError" in case.message:
                problems.append(f"{path} has a syntax error: {_last_error_line(case.message)}")
            elif MISSING_NAME.search(_last_error_line(case.message)):
                red += 1
            else:
                problems.append(
                    f"{path} fails at import for a reason other than a missing name: {_last_error_line(case.message)}"
                )
    for test in expected:
        if module_name(test.path) in broken_modules:
            continue
        found = [c for c in cases if c.classname == test.classname and c.function == test.function]
        if not found:
            problems.append(f"{test.label} was not collected on the base commit")
            continue
        for case in found:
            label = test.label + case.name[len(case.function) :]
            if case.outcome == PASSED:
                passing.append(label)
            elif (
                case.outcome == ERROR
                and "fixture '" in case.message
                and "not found" in case.message
            ):
                problems.append(
                    f"{label} uses a fixture the base commit does not provide ({_last_error_line(case.message)}); the gate runs locked tests with the base's conftest only"
                )
            elif case.outcome in (FAILED, ERROR, SKIPPED):
                red += 1  # a skip on base (e.g. skipif the name is missing) may honestly pass later
    return Verdict(problems=tuple(problems), passing=tuple(passing), red=red)
