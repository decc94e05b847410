"""What the engineer, the reviewers and the tech-lead are told: pure text from the build's data.

Held-out tests stay secret here: their paths, module names and test names are replaced before
any text reaches an agent, so a failing gate cannot leak what the hidden tests check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from leanforge.gate.report import GateReport
from leanforge.gate.scan import Finding
from leanforge.gate.testfiles import expected_tests, module_name
from leanforge.pipeline.attempts import MERGED, Attempt, FailedCheck

HIDDEN = "[held-out test]"
HOLDOUT_CHECK = "held-out tests"


class Redactor:
    """Replaces every name that identifies a held-out test."""

    def __init__(self, holdout: Mapping[str, bytes]) -> None:
        names: set[str] = set()
        for path, data in holdout.items():
            module = module_name(path)
            names |= {path, module, module.rsplit(".", 1)[-1], path.rsplit("/", 1)[-1]}
            try:
                tests = expected_tests(path, data)
            except SyntaxError:
                tests = ()
            names |= {t.function for t in tests} | {t.scope for t in tests if t.scope}
        ordered = sorted((n for n in names if n), key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w.]){re.escape(n)}(?![\w])" for n in ordered))
            if ordered
            else None
        )

    def __call__(self, text: str) -> str:
        return self._pattern.sub(HIDDEN, text) if self._pattern else text


def failed_checks(report: GateReport, redact: Redactor) -> tuple[FailedCheck, ...]:
    """The failed checks, safe to show an agent: held-out details reduced to a count."""
    out = []
    for check in report.failed_checks:
        if check.name == HOLDOUT_CHECK:
            out.append(
                FailedCheck(
                    check.name,
                    f"{len(check.items) or 'some'} held-out test(s) failed; they check the spec's "
                    "behaviour beyond the visible tests",
                )
            )
            continue
        out.append(
            FailedCheck(
                check.name, redact(check.detail), tuple(redact(i) for i in check.items[:10])
            )
        )
    return tuple(out)


def gate_text(report: GateReport, redact: Redactor) -> str:
    """The gate report as markdown lines, for reviewers."""
    lines = [f"Gate run {report.run}: {'PASSED' if report.passed else 'FAILED'}"]
    for check in report.checks:
        detail = (
            "held-out tests passed"
            if check.name == HOLDOUT_CHECK and check.passed
            else redact(check.detail)
        )
        lines.append(f"- {'pass' if check.passed else 'FAIL'} {check.name}: {detail}")
    return "\n".join(lines)


def flags_text(flags: Sequence[Finding]) -> str:
    """The gate's scan findings, one per line ("" when there are none)."""
    return "\n".join(
        f"- {f.path}{f':{f.line}' if f.line else ''} [{f.kind}] {f.detail}" for f in flags[:60]
    )


def history_text(attempts: Iterable[Attempt]) -> str:
    """Every finished attempt: what the gate, the reviewers or the merge said. "" if none."""
    blocks = []
    for a in attempts:
        if not a.outcome:
            continue
        lines = [f"### Attempt {a.number}: {a.outcome}"]
        if a.summary:
            lines.append(f"Engineer's summary: {a.summary.strip()}")
        if a.engineer_error:
            lines.append(f"The engineer's session failed: {a.engineer_error}")
        for check in a.failed_checks:
            lines.append(f"- gate check failed: **{check.name}**: {check.detail}")
            lines.extend(f"  - {item}" for item in check.items)
        for v in a.verdicts:
            if v.approve:
                lines.append(f"- reviewer {v.reviewer} ({v.lens}) approved")
                continue
            lines.append(
                f"- reviewer {v.reviewer} ({v.lens}) rejected"
                + (f": {v.problem}" if v.problem else "")
            )
            for b in v.blockers:
                lines.append(f"  - blocker **{b.title}**: {b.detail}")
                if b.counterexample:
                    lines.append(f"    counterexample: {b.counterexample}")
        if a.merge_detail:
            lines.append(f"- merge: {a.merge_detail}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def conflict_text(target: str, conflicts: Sequence[str]) -> str:
    """What the engineer must do after forge merged a moved target into its worktree."""
    if not conflicts:
        return ""
    files = ", ".join(f"`{p}`" for p in conflicts)
    return (
        f"The target branch `{target}` moved and its changes conflict with this task in {files}. "
        "Forge has merged the target into your worktree: those files now contain git conflict "
        "markers (<<<<<<<, =======, >>>>>>>). Resolve every one, keeping both the target's "
        "changes and this task's, and make sure the tests still pass."
    )


def format_attempt(attempt: Attempt) -> str:
    """One line per attempt: how it ended and the first reason."""
    why = ""
    if attempt.engineer_error:
        why = attempt.engineer_error
    elif attempt.failed_checks:
        why = ", ".join(c.name for c in attempt.failed_checks)
    elif rejected := [v for v in attempt.verdicts if not v.approve]:
        why = "; ".join(
            f"reviewer {v.reviewer} ({v.lens}): "
            + (", ".join(b.title for b in v.blockers) or v.problem)
            for v in rejected
        )
    elif attempt.merge_detail and attempt.outcome != MERGED:
        why = attempt.merge_detail
    return f"{attempt.outcome or 'in progress'}" + (f": {why}" if why else "")
