"""Merging a task branch: in-memory plans, guarded commits, and the user's checkout left safe."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ConfigLevel

from leanforge.errors import MergeRefused
from leanforge.git.merge import MergePlan, commit_merge, export_tree, plan_merge
from leanforge.state import RepoPaths, discover

SLUG = "add-greet"
BRANCH = f"forge/{SLUG}"
SPEC_PATH = f".forge/specs/{SLUG}.md"
TEST_PATH = "tests/test_greet.py"
SPEC = b"# add-greet\n\nGreet people by name.\n"
PRISTINE_TEST = b"from app import greet\n\n\ndef test_greet():\n    assert greet('x') == 'hi x'\n"
TRAILERS = {"Forge-Task": SLUG, "Forge-Lock": "sha256:" + "ab" * 32}
OVERLAY = {SPEC_PATH: SPEC, TEST_PATH: PRISTINE_TEST}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Tester", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def commit_files(root: Path, files: dict[str, bytes], message: str) -> None:
    for rel, data in files.items():
        write(root, rel, data)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A repo on `main` with an app, a test and a README, all committed and clean."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit_files(
        root,
        {
            "README.md": b"hello\n",
            "src/app.py": b"def greet(name):\n    return name\n",
            "tests/test_app.py": b"def test_ok():\n    assert True\n",
        },
        "initial",
    )
    return root


def opened(root: Path) -> tuple[pygit2.Repository, RepoPaths]:
    return discover(root)


def make_task(root: Path, files: dict[str, bytes]) -> Path:
    """Branch forge/<slug> from main in its own worktree and commit ``files`` there."""
    wt = root / ".git" / "forge-worktrees" / SLUG
    git(root, "worktree", "add", "-q", "-b", BRANCH, str(wt), "main")
    commit_files(wt, files, "engineer work")
    return wt


GREET = {"src/app.py": b"def greet(name):\n    return 'hi ' + name\n", TEST_PATH: PRISTINE_TEST}


def rev(root: Path, name: str) -> str:
    return git(root, "rev-parse", name).strip()


def snapshot(root: Path) -> dict[str, bytes]:
    """Hash every file under ``root`` (index, HEAD and refs too), except new objects and forge's lock."""
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [
            d for d in dirnames if (rel_dir / d).as_posix() not in (".git/objects", ".git/forge")
        ]
        for name in filenames:
            path = Path(dirpath) / name
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            out[(rel_dir / name).as_posix()] = hashlib.sha256(data).digest()
    return out


def merge(root: Path, overlay: dict[str, bytes] = OVERLAY) -> tuple[MergePlan, pygit2.Oid]:
    repo, paths = opened(root)
    plan = plan_merge(repo, target="main", branch=BRANCH, overlay=overlay)
    return plan, commit_merge(repo, paths, plan, message=f"forge: merge {SLUG}", trailers=TRAILERS)


def blob_at(root: Path, commit: str, rel: str) -> bytes:
    repo, _ = opened(root)
    tree = repo.revparse_single(commit).peel(pygit2.Commit).tree
    return tree[rel].peel(pygit2.Blob).data


def test_clean_merge_commits_overlay_and_updates_checkout(work: Path) -> None:
    make_task(work, GREET)
    old_main, head = rev(work, "main"), rev(work, BRANCH)

    plan, oid = merge(work)

    assert not plan.moved
    assert plan.touched == (SPEC_PATH, "src/app.py", TEST_PATH)
    assert rev(work, "main") == str(oid)
    assert git(work, "log", "-1", "--format=%P", "main").split() == [old_main, head]
    raw = git(work, "cat-file", "commit", "main").split("\n\n", 1)[1]
    assert (
        raw == f"forge: merge {SLUG}\n\nForge-Task: {SLUG}\nForge-Lock: {TRAILERS['Forge-Lock']}\n"
    )
    parsed = git(work, "log", "-1", "--format=%(trailers:only,unfold)", "main").strip()
    assert parsed.splitlines() == [f"{k}: {v}" for k, v in TRAILERS.items()]
    assert blob_at(work, "main", SPEC_PATH) == SPEC
    assert blob_at(work, "main", TEST_PATH) == PRISTINE_TEST
    assert (work / SPEC_PATH).read_bytes() == SPEC
    assert (work / TEST_PATH).read_bytes() == PRISTINE_TEST
    assert (work / "src/app.py").read_bytes() == GREET["src/app.py"]
    assert git(work, "status", "--porcelain") == ""
    assert not (work / ".git" / "MERGE_HEAD").exists()
    assert "forge: merge forge/add-greet into main" in git(work, "reflog", "-1", "main")


def test_overlay_beats_an_edited_test_in_the_branch(work: Path) -> None:
    make_task(work, {**GREET, TEST_PATH: b"def test_greet():\n    pass  # weakened\n"})

    plan, _ = merge(work)

    assert blob_at(work, "main", TEST_PATH) == PRISTINE_TEST
    assert (work / TEST_PATH).read_bytes() == PRISTINE_TEST
    assert git(work, "status", "--porcelain") == ""
    repo, _ = opened(work)
    assert repo[plan.tree].peel(pygit2.Tree)[TEST_PATH].filemode == pygit2.enums.FileMode.BLOB


def test_merge_after_target_moved_without_conflict(work: Path) -> None:
    make_task(work, GREET)
    commit_files(work, {"README.md": b"hello, moved\n"}, "user work on main")
    user_tip = rev(work, "main")

    plan, _ = merge(work)

    assert plan.moved
    assert str(plan.target_old) == user_tip
    assert plan.touched == (SPEC_PATH, "src/app.py", TEST_PATH)
    for rel, data in {**GREET, "README.md": b"hello, moved\n", SPEC_PATH: SPEC}.items():
        assert blob_at(work, "main", rel) == data
        assert (work / rel).read_bytes() == data
    assert git(work, "log", "-1", "--format=%P", "main").split() == [user_tip, rev(work, BRANCH)]
    assert git(work, "status", "--porcelain") == ""


def test_conflicting_merge_is_refused_and_changes_nothing(work: Path) -> None:
    make_task(work, GREET)
    commit_files(work, {"src/app.py": b"def greet(name):\n    return 'yo ' + name\n"}, "clash")
    before, main_before, branch_before = snapshot(work), rev(work, "main"), rev(work, BRANCH)
    repo, _ = opened(work)

    with pytest.raises(MergeRefused, match=r"src/app\.py.*rebuild the task"):
        plan_merge(repo, target="main", branch=BRANCH, overlay=OVERLAY)

    assert snapshot(work) == before
    assert rev(work, "main") == main_before
    assert rev(work, BRANCH) == branch_before
    assert not (work / ".git" / "MERGE_HEAD").exists()
    assert b"<<<<<<<" not in (work / "src/app.py").read_bytes()
    assert git(work, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("how", "rel"),
    [
        ("modified", "src/app.py"),
        ("staged", "src/app.py"),
        ("untracked", TEST_PATH),
        ("ignored", SPEC_PATH),
    ],
)
def test_dirty_touched_path_refuses_and_changes_nothing(work: Path, how: str, rel: str) -> None:
    make_task(work, GREET)
    repo, paths = opened(work)
    plan = plan_merge(repo, target="main", branch=BRANCH, overlay=OVERLAY)
    write(work, rel, b"user's unsaved work\n")
    if how == "staged":
        git(work, "add", rel)
    if how == "ignored":
        (work / ".git/info/exclude").write_text(f"/{rel}\n")
        assert git(work, "status", "--porcelain") == ""
    before, main_before = snapshot(work), rev(work, "main")

    with pytest.raises(MergeRefused, match=rf"changes in {re.escape(rel)} would be overwritten"):
        commit_merge(repo, paths, plan, message="m", trailers=TRAILERS)

    assert snapshot(work) == before
    assert rev(work, "main") == main_before
    assert (work / rel).read_bytes() == b"user's unsaved work\n"


def test_dirty_untouched_path_is_kept(work: Path) -> None:
    make_task(work, GREET)
    write(work, "README.md", b"my local notes\n")
    write(work, "scratch.txt", b"untracked\n")

    merge(work)

    assert (work / "README.md").read_bytes() == b"my local notes\n"
    assert (work / "scratch.txt").read_bytes() == b"untracked\n"
    assert (work / "src/app.py").read_bytes() == GREET["src/app.py"]
    assert sorted(git(work, "status", "--porcelain").splitlines()) == [
        " M README.md",
        "?? scratch.txt",
    ]


def test_checkout_mid_operation_is_refused(work: Path) -> None:
    make_task(work, GREET)
    (work / ".git" / "MERGE_HEAD").write_text(rev(work, BRANCH) + "\n")
    main_before = rev(work, "main")

    with pytest.raises(MergeRefused, match="middle of a merge"):
        merge(work)

    assert rev(work, "main") == main_before
    assert not (work / SPEC_PATH).exists()


def test_target_not_checked_out_moves_only_the_ref(work: Path) -> None:
    make_task(work, GREET)
    git(work, "switch", "-q", "-c", "elsewhere")
    before = {k: v for k, v in snapshot(work).items() if not k.startswith(".git/")}

    _, oid = merge(work)

    assert rev(work, "main") == str(oid)
    assert {k: v for k, v in snapshot(work).items() if not k.startswith(".git/")} == before
    assert git(work, "symbolic-ref", "HEAD").strip() == "refs/heads/elsewhere"
    assert git(work, "status", "--porcelain") == ""
    assert not (work / SPEC_PATH).exists()


def test_target_checked_out_in_another_worktree_is_refused(work: Path, tmp_path: Path) -> None:
    make_task(work, GREET)
    git(work, "switch", "-q", "-c", "elsewhere")
    git(work, "worktree", "add", "-q", str(tmp_path / "side"), "main")
    main_before = rev(work, "main")

    with pytest.raises(MergeRefused, match="checked out in worktree"):
        merge(work)

    assert rev(work, "main") == main_before


def test_target_moved_between_plan_and_commit_is_refused(work: Path) -> None:
    make_task(work, GREET)
    repo, paths = opened(work)
    plan = plan_merge(repo, target="main", branch=BRANCH, overlay=OVERLAY)
    commit_files(work, {"README.md": b"sneaky\n"}, "moved meanwhile")
    user_tip = rev(work, "main")

    with pytest.raises(MergeRefused, match="moved while merging; plan the merge again"):
        commit_merge(repo, paths, plan, message="m", trailers=TRAILERS)

    assert rev(work, "main") == user_tip
    assert not (work / SPEC_PATH).exists()


def test_branch_without_new_commits_is_refused(work: Path) -> None:
    git(work, "branch", BRANCH)
    repo, _ = opened(work)
    with pytest.raises(MergeRefused, match="nothing to merge"):
        plan_merge(repo, target="main", branch=BRANCH, overlay=OVERLAY)


@pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", ".git/config", "a/./b", ""])
def test_overlay_paths_must_be_clean(work: Path, bad: str) -> None:
    make_task(work, GREET)
    repo, _ = opened(work)
    with pytest.raises(ValueError, match="repo-relative"):
        plan_merge(repo, target="main", branch=BRANCH, overlay={bad: b"x"})


def test_trailer_values_cannot_inject_lines(work: Path) -> None:
    make_task(work, GREET)
    repo, paths = opened(work)
    plan = plan_merge(repo, target="main", branch=BRANCH, overlay=OVERLAY)
    main_before = rev(work, "main")
    with pytest.raises(ValueError, match="invalid trailer"):
        commit_merge(repo, paths, plan, message="m", trailers={"Forge-Task": "x\nForge-Lock: y"})
    assert rev(work, "main") == main_before


@pytest.fixture
def no_git_identity(tmp_path: Path) -> Iterator[None]:
    """Point libgit2's global/xdg/system config at an empty dir, so no user.name exists."""
    empty = tmp_path / "no-config"
    empty.mkdir()
    levels = (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM)
    saved = {level: pygit2.settings.search_path[level] for level in levels}
    for level in levels:
        pygit2.settings.search_path[level] = str(empty)
    try:
        yield
    finally:
        for level, value in saved.items():
            pygit2.settings.search_path[level] = value


def test_fallback_signature_without_configured_identity(work: Path, no_git_identity: None) -> None:
    make_task(work, GREET)
    merge(work)
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main").strip() == (
        "leanforge <forge@localhost>|leanforge <forge@localhost>"
    )


def test_export_tree_writes_files_modes_and_symlinks(work: Path, tmp_path: Path) -> None:
    write(work, "bin/run.sh", b"#!/bin/sh\necho hi\n")
    (work / "bin/run.sh").chmod(0o755)
    (work / "link").symlink_to("src/app.py")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "more")
    repo, _ = opened(work)
    tree = repo.revparse_single("main").peel(pygit2.Tree).id
    dest = tmp_path / "export"

    export_tree(repo, tree, dest)

    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if not p.is_dir())
    assert files == ["README.md", "bin/run.sh", "link", "src/app.py", "tests/test_app.py"]
    assert (dest / "src/app.py").read_bytes() == (work / "src/app.py").read_bytes()
    assert (dest / "bin/run.sh").stat().st_mode & stat.S_IXUSR
    assert not (dest / "README.md").stat().st_mode & stat.S_IXUSR
    assert os.readlink(dest / "link") == "src/app.py"
    with pytest.raises(ValueError, match="not empty"):
        export_tree(repo, tree, dest)
