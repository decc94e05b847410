"""Step 8: flag changes to test infrastructure and suspicious constructs, for the reviewers.

Pure functions over changed files. Findings never fail the gate by themselves (an honest
change may add a fixture); they make what the engineer did to the test machinery visible.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from leanforge.gate import pytestcfg

CI_PREFIXES = (
    ".github/",
    ".gitlab-ci",
    ".ci/",
    ".circleci/",
    "Jenkinsfile",
    "azure-pipelines",
    "noxfile.py",
    ".pre-commit-config",
)

#: (kind, pattern) applied to lines added to non-test Python code.
CONSTRUCTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("defines pytest hooks", r"\bdef\s+pytest_\w+"),
        (
            "imports pytest",
            r"\b(import|from)\s+_?pytest\b|\b_pytest\b|__import__\(\s*['\"]_?pytest",
        ),
        (
            "detects the test runner",
            r"PYTEST_|sys\.modules\s*\[\s*['\"]_?pytest|\bpytest\b.*\bin\s+sys\.modules",
        ),
        (
            "inspects the call stack",
            r"\binspect\.(stack|currentframe|getouterframes|trace)\b|sys\._getframe|\bf_back\b",
        ),
        ("patches builtins", r"\bbuiltins\b|__builtins__"),
        ("exits the process", r"\bos\._exit\b|\bsys\.exit\b|\bos\.kill\b|\bos\.abort\b"),
        ("registers exit hooks", r"\batexit\b"),
        ("touches report files", r"junit|\.xml\b|--junit"),
        ("checks process ancestry", r"/proc\b|\bpsutil\b|\bgetppid\b"),
        (
            "hooks interpreter internals",
            r"sys\.(settrace|setprofile|addaudithook|excepthook|meta_path|path_hooks)\b",
        ),
        (
            "depends on date or time",
            r"\b(datetime|date)\.(now|today|utcnow)\b|\btime\.(time|localtime|gmtime|monotonic)\s*\(",
        ),
    )
)


#: Top-level modules of the test runner itself; a file that shadows one is flagged.
RUNNER_MODULES = frozenset({"pytest", "_pytest", "pluggy", "py", "iniconfig"})

#: Constructs that are ordinary in test code.
TEST_NORMAL = frozenset(
    {"defines pytest hooks", "imports pytest", "detects the test runner", "touches report files"}
)


@dataclass(frozen=True)
class ChangedFile:
    path: str  # repo-relative POSIX
    old: bytes | None  # at the base commit (None = added)
    new: bytes | None  # in the worktree now (None = deleted)


@dataclass(frozen=True)
class Finding:
    path: str
    kind: str
    detail: str
    line: int = 0


def is_test_file(path: str) -> bool:
    p = PurePosixPath(path)
    return (
        p.name == "conftest.py"
        or p.name.startswith("test_")
        or p.stem.endswith("_test")
        or any(part in ("tests", "test", "testing") for part in p.parts[:-1])
    )


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def infra_findings(change: ChangedFile) -> list[Finding]:
    p = PurePosixPath(change.path)
    verb = "deleted" if change.new is None else "added" if change.old is None else "changed"
    found: list[Finding] = []
    if p.name == "conftest.py":
        found.append(
            Finding(
                change.path,
                "test infrastructure",
                f"conftest.py {verb}: it can change how tests run",
            )
        )
    if p.name in pytestcfg.CONFIG_NAMES and pytestcfg.options_differ(
        p.name, _text(change.old), _text(change.new)
    ):
        found.append(
            Finding(change.path, "test infrastructure", f"pytest configuration in {p.name} {verb}")
        )
    top = p.parts[1] if len(p.parts) > 1 and p.parts[0] == "src" else p.parts[0] if p.parts else ""
    if top.removesuffix(".py") in RUNNER_MODULES:
        found.append(
            Finding(
                change.path,
                "test infrastructure",
                f"{change.path} {verb}: it shadows the test runner's own `{top.removesuffix('.py')}` module",
            )
        )
    if p.suffix == ".pth":
        found.append(
            Finding(
                change.path,
                "test infrastructure",
                f".pth file {verb}: runs code when Python starts",
            )
        )
    if p.name in ("sitecustomize.py", "usercustomize.py"):
        found.append(
            Finding(
                change.path, "test infrastructure", f"{p.name} {verb}: runs code when Python starts"
            )
        )
    if change.path.startswith(CI_PREFIXES):
        found.append(Finding(change.path, "ci", f"CI configuration {verb}"))
    if p.suffix in (".pyc", ".pyo") and "__pycache__" not in p.parts:
        found.append(
            Finding(change.path, "bytecode", f"compiled bytecode {verb} (the gate never runs it)")
        )
    if p.name.startswith("python") and "bin" in p.parts:
        found.append(
            Finding(
                change.path,
                "interpreter",
                f"an interpreter-like file {verb} in the worktree (the gate never runs it)",
            )
        )
    if p.parts and p.parts[0] == ".forge" and p.parts[:2] != (".forge", "specs"):
        found.append(
            Finding(
                change.path,
                "forge settings",
                f"{change.path} {verb} in the task branch (forge reads settings from your checkout)",
            )
        )
    return found


def added_lines(old: bytes | None, new: bytes | None) -> list[tuple[int, str]]:
    """(line number, text) of lines in ``new`` that are not in ``old``."""
    new_lines = (new or b"").decode("utf-8", "replace").splitlines()
    old_lines = (old or b"").decode("utf-8", "replace").splitlines()
    out: list[tuple[int, str]] = []
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(
        a=old_lines, b=new_lines, autojunk=False
    ).get_opcodes():
        if tag in ("replace", "insert"):
            out.extend((j + 1, new_lines[j]) for j in range(j1, j2))
    return out


def construct_findings(change: ChangedFile) -> list[Finding]:
    if change.new is None or not change.path.endswith(".py"):
        return []
    # Test files are scanned too (implementation code could import a cheat from one), but
    # for what tests do every day (import pytest, define hooks) they are not flagged.
    kinds = [(k, p) for k, p in CONSTRUCTS if not (is_test_file(change.path) and k in TEST_NORMAL)]
    found = []
    for number, text in added_lines(change.old, change.new):
        # Comments are scanned too: cutting at "#" would let "x = '#'; os._exit(0)" hide.
        for kind, pattern in kinds:
            if pattern.search(text):
                found.append(Finding(change.path, kind, text.strip()[:160], line=number))
    return found


def scan(changes: Iterable[ChangedFile]) -> list[Finding]:
    findings: list[Finding] = []
    for change in changes:
        findings += infra_findings(change)
        findings += construct_findings(change)
    return findings
