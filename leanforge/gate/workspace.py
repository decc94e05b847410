"""The gate's own test tree, built outside the worktree from pristine parts only.

Pass A runs the locked tests from here: the pristine test files, the base commit's test
support (conftest.py files, helpers and data under the tests folders) and a gate-owned pytest
config derived from the base commit's. Nothing in it comes from the engineer's worktree.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pygit2

from leanforge.gate import pytestcfg

TEST_FOLDER_NAMES = frozenset({"test", "tests", "testing"})
#: Base config keys the gate drops: it sets its own options, and autoload is off in the gate.
DROPPED_OPTIONS = frozenset(
    {
        "addopts",
        "required_plugins",
        "testpaths",
        "cache_dir",
        "junit_family",
        "confcutdir",
        "xfail_strict",
        "pythonpath",
    }
)


def support_roots(locked: list[str]) -> tuple[set[str], set[str]]:
    """(test folders to copy whole, single conftest.py paths) for the locked files (pure).

    A test folder is the outermost ancestor named test/tests/testing. Without one, only the
    conftest.py files on the way down are taken: copying a package folder would shadow the
    engineer's implementation with the base's.
    """
    folders: set[str] = set()
    conftests: set[str] = set()
    for path in locked:
        parts = PurePosixPath(path).parts[:-1]
        conftests.update(
            PurePosixPath(*parts[:i], "conftest.py").as_posix() for i in range(len(parts) + 1)
        )
        for i, part in enumerate(parts):
            if part in TEST_FOLDER_NAMES:
                folders.add(PurePosixPath(*parts[: i + 1]).as_posix())
                break
    return folders, conftests


def _walk(
    tree: pygit2.Tree, prefix: str, repo: pygit2.Repository
) -> Iterator[tuple[str, pygit2.Blob]]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        obj = repo[entry.id]
        if isinstance(obj, pygit2.Tree):
            yield from _walk(obj, f"{path}/", repo)
        elif isinstance(obj, pygit2.Blob) and entry.filemode != pygit2.enums.FileMode.LINK:
            yield path, obj


def base_support(
    repo: pygit2.Repository, base: pygit2.Commit, locked: list[str]
) -> dict[str, bytes]:
    """The base commit's test support files for ``locked``, as {path: bytes}."""
    folders, conftests = support_roots(locked)
    out: dict[str, bytes] = {}
    for folder in sorted(folders):
        try:
            subtree = base.tree[folder]
        except KeyError:
            continue
        if isinstance(subtree, pygit2.Tree):
            out.update((path, blob.data) for path, blob in _walk(subtree, f"{folder}/", repo))
    for path in conftests:
        try:
            obj = base.tree[path]
        except KeyError:
            continue
        if isinstance(obj, pygit2.Blob):
            out[path] = obj.data
    return out


def base_pytest_options(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The pytest options the base commit's root config sets, found as pytest would."""
    found = pytestcfg.first_config(
        {name: data.decode("utf-8", "replace") for name, data in files.items()}
    )
    return found[1] if found else {}


def gate_ini(options: Mapping[str, Any], import_paths: list[Path]) -> str:
    """A pytest.ini for the gate: the base's options minus the dropped ones, plus the gate's own."""
    lines = ["[pytest]"]
    for key, value in sorted(options.items()):
        if key in DROPPED_OPTIONS:
            continue
        items = pytestcfg.as_ini_lines(value)
        if not isinstance(value, list) and len(items) <= 1:
            lines.append(f"{key} = {items[0] if items else ''}")
        else:
            lines.append(f"{key} =")
            lines.extend(f"    {item}" for item in items)
    lines.append("xfail_strict = true")
    lines.append("junit_family = xunit2")
    lines.append("pythonpath =")
    lines.extend(f"    {shlex.quote(str(p))}" for p in import_paths)
    return "\n".join(lines) + "\n"


def import_paths(worktree: Path, options: Mapping[str, Any]) -> list[Path]:
    """The worktree on sys.path, plus the base's own ``pythonpath`` entries and ``src/`` if present."""
    paths = [worktree]
    raw = options.get("pythonpath", [])
    for entry in shlex.split(raw) if isinstance(raw, str) else [str(e) for e in raw]:
        candidate = (worktree / entry).resolve()
        if candidate.is_relative_to(worktree.resolve()) and candidate not in paths:
            paths.append(candidate)
    if (worktree / "src").is_dir() and worktree / "src" not in paths:
        paths.append(worktree / "src")
    return paths


def test_patterns(
    options: Mapping[str, Any],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(python_functions, python_classes) as the base config sets them, else pytest's defaults."""

    def get(key: str, default: str) -> tuple[str, ...]:
        value = options.get(key, default)
        return (
            tuple(str(v) for v in value) if isinstance(value, list) else tuple(str(value).split())
        )

    return get("python_functions", "test"), get("python_classes", "Test")


def write_tree(root: Path, files: Mapping[str, bytes | str]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
