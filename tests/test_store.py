"""The state dir: atomic writes, the task store, repository discovery and the forge lock."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import filelock
import pytest

from leanforge.errors import CorruptState, EmptyRepository, LockBusy, NotARepository, UnknownTask
from leanforge.records import SPECCED, TaskRecord
from leanforge.state import RepoPaths, atomic_write, atomic_write_json, discover, forge_lock
from leanforge.store import TaskStore

IDENTITY = ["-c", "user.name=Forge Test", "-c", "user.email=forge@example.invalid"]


def git(*args: str, cwd: Path) -> None:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    subprocess.run(["git", *IDENTITY, *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg" / "sub").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root)
    (root / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)
    return root


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    return TaskStore(RepoPaths(workdir=tmp_path, common_dir=tmp_path / ".git"))


def record(slug: str, title: str = "a task") -> TaskRecord:
    return TaskRecord(
        slug=slug,
        title=title,
        status=SPECCED,
        base_branch="main",
        base_commit="a" * 40,
        branch=f"forge/{slug}",
        worktree=f"/wt/{slug}",
        lock_sha256="b" * 64,
        locked_files=("tests/test_x.py",),
        holdout_count=0,
        created_at="2025-01-01T00:00:00Z",
        updated_at="2025-01-01T00:00:00Z",
    )


# --- atomic writes ---------------------------------------------------------------------------


def test_atomic_write_creates_parents_and_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.bin"
    atomic_write(target, b"old")
    atomic_write(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert os.listdir(target.parent) == ["file.bin"]  # no temp file left behind


def test_a_failed_atomic_write_keeps_the_old_content_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_atomic_write_json_is_sorted_and_newline_terminated(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_json(target, {"b": 1, "a": [1, 2]})
    text = target.read_text()
    assert text.endswith("}\n")
    assert text.index('"a"') < text.index('"b"')


# --- the task store --------------------------------------------------------------------------


def test_put_then_get_round_trips(store: TaskStore) -> None:
    store.put(record("fix-add"))
    assert store.get("fix-add") == record("fix-add")
    assert store.exists("fix-add")
    assert store.record_path("fix-add").parent == store.paths.tasks_dir / "fix-add"


def test_put_overwrites(store: TaskStore) -> None:
    store.put(record("fix-add", title="first"))
    store.put(record("fix-add", title="second"))
    assert store.get("fix-add").title == "second"


def test_slugs_and_all_are_sorted_and_skip_folders_without_a_record(store: TaskStore) -> None:
    assert store.slugs() == []
    assert list(store.all()) == []
    for slug in ("zeta", "alpha", "mid"):
        store.put(record(slug))
    (store.paths.tasks_dir / "half-made" / "lock").mkdir(parents=True)
    assert store.slugs() == ["alpha", "mid", "zeta"]
    assert [r.slug for r in store.all()] == ["alpha", "mid", "zeta"]


def test_an_unknown_slug_is_unknown_task(store: TaskStore) -> None:
    store.put(record("fix-add"))
    with pytest.raises(UnknownTask, match="nope"):
        store.get("nope")
    assert not store.exists("nope")


@pytest.mark.parametrize(
    "text",
    [
        "{truncated",
        "[]",
        "null",
        '{"slug": "fix-add"}',
        '{"slug": "fix-add", "extra": 1}',
    ],
)
def test_a_corrupted_record_is_corrupt_state_naming_the_fix(store: TaskStore, text: str) -> None:
    store.put(record("fix-add"))
    store.record_path("fix-add").write_text(text)
    with pytest.raises(CorruptState) as caught:
        store.get("fix-add")
    message = str(caught.value)
    assert "`forge clean fix-add --force`" in message
    assert str(store.record_path("fix-add")) in message
    assert "\n" not in message


def test_a_record_with_a_bad_status_is_corrupt_state(store: TaskStore) -> None:
    store.put(dataclasses.replace(record("fix-add"), status="shipped"))
    with pytest.raises(CorruptState, match="shipped"):
        store.get("fix-add")


def test_non_utf8_record_is_corrupt_state(store: TaskStore) -> None:
    store.put(record("fix-add"))
    store.record_path("fix-add").write_bytes(b"\xff\xfe{")
    with pytest.raises(CorruptState):
        store.get("fix-add")


def test_gate_reports_are_numbered_per_run(store: TaskStore) -> None:
    path = store.save_gate_report("fix-add", 3, {"passed": True})
    assert path == store.paths.task_dir("fix-add") / "gate" / "0003.json"
    assert path.read_text() == '{\n  "passed": true\n}\n'


# --- discovery -------------------------------------------------------------------------------


def expected_paths(root: Path) -> tuple[Path, Path]:
    return (root / ".git").resolve(), root.resolve()


def test_discover_from_the_checkout_and_a_subdir(repo_root: Path) -> None:
    for start in (repo_root, repo_root / "pkg" / "sub"):
        repo, paths = discover(start)
        assert (paths.common_dir, paths.workdir) == expected_paths(repo_root)
        assert paths.state_dir == paths.common_dir / "forge"
        assert Path(repo.workdir).resolve() == repo_root.resolve()


def test_discover_from_a_linked_worktree_resolves_to_the_main_repository(
    repo_root: Path, tmp_path: Path
) -> None:
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "-b", "side", str(linked), cwd=repo_root)
    for start in (linked, linked / "pkg" / "sub"):
        repo, paths = discover(start)
        assert (paths.common_dir, paths.workdir) == expected_paths(repo_root)
        assert Path(repo.workdir).resolve() == repo_root.resolve()


def test_discover_outside_a_repository(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    with pytest.raises(NotARepository, match="git init"):
        discover(lonely)


def test_discover_refuses_a_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    bare.mkdir()
    git("init", "-q", "--bare", cwd=bare)
    with pytest.raises(NotARepository, match="bare"):
        discover(bare)


def test_discover_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git("init", "-q", cwd=root)
    with pytest.raises(EmptyRepository, match="first commit"):
        discover(root)
    _, paths = discover(root, allow_empty=True)
    assert (paths.common_dir, paths.workdir) == expected_paths(root)


# --- the forge lock --------------------------------------------------------------------------


def test_forge_lock_is_exclusive_while_held(tmp_path: Path) -> None:
    paths = RepoPaths(workdir=tmp_path, common_dir=tmp_path / ".git")
    with forge_lock(paths):
        assert paths.lock_path.exists()
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(str(paths.lock_path), timeout=0.1).acquire()
        with pytest.raises(LockBusy, match="wait for it to finish"), forge_lock(paths, timeout=0.1):
            pass
    other = filelock.FileLock(str(paths.lock_path), timeout=0.1)
    with other:
        assert other.is_locked


def test_a_saved_gate_report_reads_back_and_a_missing_one_says_what_to_do(tmp_path: Path) -> None:
    store = TaskStore(RepoPaths(workdir=tmp_path, common_dir=tmp_path / ".git"))
    store.save_gate_report("t", 2, {"run": 2, "checks": []})
    assert store.gate_report("t", 2) == {"run": 2, "checks": []}
    with pytest.raises(CorruptState, match="forge gate t"):
        store.gate_report("t", 3)
