"""Test files for a spec: where they may live and what they must hold, for both paths.

The human path reads the files the user names (``--tests``); the model path reads the files
the spec-writer submitted from its draft area. Either way they end up as contents keyed by a
clean repo-relative POSIX path, which :func:`leanforge.spec.validate` checks further.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from leanforge.errors import BadTestPath, RedBeforeGreen
from leanforge.gate import testfiles


def repo_relative(workdir: Path, given: Path) -> str:
    """The POSIX path of ``given`` inside the repository, or a one-line reason it is not."""
    absolute = given if given.is_absolute() else Path.cwd() / given
    if not absolute.exists():
        raise BadTestPath(f"test file {given} does not exist")
    if not absolute.is_file():
        raise BadTestPath(f"{given} is not a file; pass test files, not folders")
    resolved = absolute.resolve()
    if not resolved.is_relative_to(workdir):
        raise BadTestPath(
            f"{given} is outside the repository {workdir}; tests must live in the repo"
        )
    rel = resolved.relative_to(workdir)
    if rel.parts[0] == ".git" or rel.suffix != ".py":
        raise BadTestPath(f"{given} is not a Python test file in the working tree")
    return rel.as_posix()


def read_test_files(workdir: Path, given: Sequence[Path]) -> dict[str, bytes]:
    """The human path: the contents of the user's test files, by repo-relative path."""
    out: dict[str, bytes] = {}
    for path in given:
        rel = repo_relative(workdir, path)
        out[rel] = (workdir / rel).read_bytes()
    return out


def clean_test_path(path: str) -> str:
    """``path`` as a clean repo-relative POSIX path of a Python file; BadTestPath says why not."""
    pure = PurePosixPath(path)
    if not path.strip() or "\0" in path or "\\" in path:
        raise BadTestPath(f"test path {path!r} is unusable; give a path like tests/test_x.py")
    if pure.is_absolute():
        raise BadTestPath(f"test path {path} is absolute; give it relative to the repository root")
    if ".." in pure.parts:
        raise BadTestPath(f"test path {path} climbs out with '..'; keep tests inside the repo")
    if any(part.lower() == ".git" for part in pure.parts):
        raise BadTestPath(f"test path {path} is inside .git; tests must be in the working tree")
    if pure.suffix != ".py":
        raise BadTestPath(f"test path {path} is not a Python file (.py)")
    return pure.as_posix()


def check_test_files(files: Mapping[str, bytes], kind: str) -> None:
    """Each file must parse and define at least one test (a pure check of the source)."""
    for rel, data in files.items():
        try:
            found = testfiles.expected_tests(rel, data)
        except (SyntaxError, ValueError) as exc:
            where = f" at line {exc.lineno}: {exc.msg}" if isinstance(exc, SyntaxError) else ""
            raise RedBeforeGreen(f"{rel} has a syntax error{where}; fix the test file") from exc
        if not found:
            raise RedBeforeGreen(
                f"{rel} defines no test functions; a {kind} test file needs at least one test_* function"
            )


@dataclass(frozen=True)
class Submission:
    """The spec-writer's ``submit_spec`` input."""

    spec: str
    acceptance: tuple[str, ...]
    holdout: tuple[str, ...]


def parse_submission(final: Mapping[str, Any]) -> Submission:
    """The ``submit_spec`` input as data; duplicates within a list are dropped."""

    def paths(key: str) -> tuple[str, ...]:
        value = final.get(key) or []
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise BadTestPath(f"{key} must be a list of paths")
        return tuple(dict.fromkeys(value))

    spec = final.get("spec")
    return Submission(
        spec=spec if isinstance(spec, str) else "",
        acceptance=paths("acceptance_tests"),
        holdout=paths("holdout_tests"),
    )


def read_draft_files(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """The submitted test files' bytes, by clean repo-relative path; none may lead outside ``root``."""
    out: dict[str, bytes] = {}
    for given in paths:
        rel = clean_test_path(given)
        path = root / rel
        if not path.resolve().is_relative_to(root.resolve()):
            raise BadTestPath(
                f"{rel} is a symlink leading out of the repository; write a real file"
            )
        if not path.is_file():
            raise BadTestPath(f"{rel} does not exist; create the test file before submitting it")
        out[rel] = path.read_bytes()
    return out
