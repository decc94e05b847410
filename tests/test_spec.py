"""`forge spec --tests`, the human path: lock, branch, worktree, red before green, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2
import pytest

from leanforge.lock import read_manifest


def state_of(project: Any, snapshot: Any) -> dict[str, bytes]:
    """Everything forge could have changed: the checkout (git dir included)."""
    return snapshot(project.root)


def test_spec_locks_tests_and_creates_branch_and_worktree(project: Any) -> None:
    result = project.forge(
        "spec",
        "Make add add",
        "--tests",
        "tests/test_calc.py",
        "--holdout",
        "holdout/test_holdout.py",
    )
    assert result.exit_code == 0, result.output
    slug = result.stdout.strip()
    assert slug == "make-add-add"
    record = project.forge_json("show", slug)
    assert record["status"] == "specced"
    assert record["branch"] == "forge/make-add-add"
    assert record["locked_files"] == ["tests/test_calc.py"]
    assert record["holdout_count"] == 1
    assert record["lock_state"] == "verified"
    repo = pygit2.Repository(str(project.root))
    base = repo.branches.local["main"].peel(pygit2.Commit)
    assert record["base_commit"] == str(base.id)
    head = repo.branches.local["forge/make-add-add"].peel(pygit2.Commit)
    assert head.parents[0].id == base.id
    assert "Forge-Lock: sha256:" + record["lock_sha256"] in head.message
    worktree = Path(record["worktree"])
    assert (worktree / "tests" / "test_calc.py").read_bytes() == (
        project.root / "tests" / "test_calc.py"
    ).read_bytes()
    assert (
        (worktree / ".forge" / "specs" / "make-add-add.md").read_text().startswith("# Make add add")
    )
    assert not (worktree / "holdout").exists(), "held-out tests never reach the worktree"
    assert set(repo.status()) == {"tests/test_calc.py"}, "the user's checkout is untouched"
    manifest = read_manifest(
        project.root / ".git" / "forge" / "tasks" / slug / "lock", record["lock_sha256"]
    )
    kinds = {(f.kind, f.path) for f in manifest.files}
    assert ("holdout", "holdout/test_holdout.py") in kinds
    assert ("acceptance", "tests/test_calc.py") in kinds
    wt_repo = pygit2.Repository(str(worktree))
    assert wt_repo.status() == {}, "the worktree is clean after spec"


def test_spec_json_and_list(project: Any) -> None:
    record = project.forge_json(
        "spec", "make add add", "--tests", "tests/test_calc.py", "--slug", "one"
    )
    assert record["slug"] == "one"
    listed = project.forge_json("list")
    assert [r["slug"] for r in listed] == ["one"]


@pytest.mark.parametrize(
    ("test_text", "flags", "message"),
    [
        (
            "from calc import add\n\n\ndef test_sub():\n    assert add(3, 1) == 2\n",
            [],
            "already passes on the base commit",
        ),
        ("def test_broken(:\n    pass\n", [], "syntax error"),
        ("def test_needs(nothing_here):\n    assert nothing_here\n", [], "fixture"),
        (
            "import calc\n\nraise RuntimeError('boom')\n\n\ndef test_x():\n    assert calc\n",
            [],
            "other than a missing name",
        ),
        ("x = 1\n", [], "defines no test functions"),
    ],
)
def test_red_before_green_refuses_and_changes_nothing(
    project: Any, snapshot: Any, test_text: str, flags: list[str], message: str
) -> None:
    project.write("tests/test_new.py", test_text)
    before = snapshot(project.root)
    result = project.forge("spec", "something", "--tests", "tests/test_new.py", *flags)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()[-1]) < 400
    assert snapshot(project.root) == before, "a refused spec leaves no branch, worktree or state"


def test_allow_passing_accepts_a_test_that_passes_on_base(project: Any) -> None:
    project.write(
        "tests/test_sub.py",
        "from calc import add\n\n\ndef test_sub():\n    assert add(3, 1) == 2\n",
    )
    record = project.forge_json(
        "spec", "keep subtraction", "--tests", "tests/test_sub.py", "--allow-passing"
    )
    assert record["status"] == "specced"


def test_missing_name_counts_as_red(project: Any) -> None:
    project.write(
        "tests/test_mul.py",
        "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n",
    )
    record = project.forge_json("spec", "add mul", "--tests", "tests/test_mul.py")
    assert record["slug"] == "add-mul"


def test_holdout_committed_on_base_is_refused(project: Any) -> None:
    project.write(
        "tests/test_hold.py", "from calc import add\n\n\ndef test_h():\n    assert add(1, 1) == 2\n"
    )
    project.commit("commit a would-be holdout")
    result = project.forge(
        "spec", "x", "--tests", "tests/test_calc.py", "--holdout", "tests/test_hold.py"
    )
    assert result.exit_code == 2
    assert "committed on main" in result.output


def bad(project: Any, *args: str, cwd: Path | None = None) -> str:
    result = project.forge(*args, cwd=cwd)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [
        line for line in result.output.strip().splitlines() if line.startswith(("Error", "error"))
    ]
    assert len(lines) == 1, result.output
    return result.output


def test_bad_input_is_one_line_nonzero_and_changes_nothing(
    project: Any, snapshot: Any, tmp_path: Path
) -> None:
    project.spec("taken", holdout=False)
    before = snapshot(project.root)
    assert "already exists" in bad(
        project, "spec", "again", "--tests", "tests/test_calc.py", "--slug", "taken"
    )
    assert "kebab-case" in bad(
        project, "spec", "x", "--tests", "tests/test_calc.py", "--slug", "Not_Valid"
    )
    assert "at most 50" in bad(
        project, "spec", "x", "--tests", "tests/test_calc.py", "--slug", "a" * 51
    )
    assert "does not exist" in bad(project, "spec", "x", "--tests", "tests/nope.py")
    outside = tmp_path / "outside_test.py"
    outside.write_text("def test_o():\n    assert False\n")
    assert "outside the repository" in bad(project, "spec", "x", "--tests", str(outside))
    assert "no task named" in bad(project, "show", "ghost")
    assert "no task named" in bad(project, "gate", "ghost")
    # Without --tests the spec-writer would run: no key, no session, nothing left behind.
    assert "ANTHROPIC_API_KEY is not set" in bad(project, "spec", "x")
    assert "--holdout needs --tests" in bad(
        project, "spec", "x", "--holdout", "holdout/test_holdout.py"
    )
    assert "no local branch" in bad(
        project, "spec", "x", "--tests", "tests/test_calc.py", "--base", "nope"
    )
    assert snapshot(project.root) == before


def test_not_a_repo_and_empty_repo(project: Any, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "not inside a git repository" in bad(project, "list", cwd=plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    pygit2.init_repository(str(empty))
    assert "no commits yet" in bad(project, "spec", "x", "--tests", "t.py", cwd=empty)
    assert not (empty / ".git" / "forge").exists()


def test_corrupted_task_record_and_lock(project: Any) -> None:
    project.spec("victim", holdout=False)
    task_dir = project.root / ".git" / "forge" / "tasks" / "victim"
    (task_dir / "lock" / "manifest.json").write_text("{not json")
    shown = project.forge("show", "victim")
    assert shown.exit_code == 0, "show still shows the task, with the lock's state"
    assert "TAMPERED" in shown.stdout and "unreadable" in shown.stdout
    code, report = project.gate("victim")
    assert code == 1
    assert "unreadable" in report["checks"][0]["detail"]
    (task_dir / "task.json").write_text('{"slug": 3}')
    out = bad(project, "show", "victim")
    assert "corrupted" in out and "forge clean victim --force" in out
    listed = project.forge("list")
    assert listed.exit_code == 0 and "victim" in listed.stdout and "corrupt" in listed.stdout
    assert "victim" in bad(project, "clean", "victim")
    cleaned = project.forge("clean", "victim", "--force")
    assert cleaned.exit_code == 0, cleaned.output
    assert not task_dir.exists()
    assert json.loads(project.forge("list", "--json").stdout) == []
