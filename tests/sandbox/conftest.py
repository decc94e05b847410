"""A real repository shaped as forge leaves it: a checkout, a state dir, two task worktrees."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leanforge.sandbox.base import Executor, Layout, Mount, RunRequest, scrub_env
from leanforge.sandbox.bwrap import BwrapExecutor
from leanforge.sandbox.factory import layout_for
from leanforge.sandbox.none import NoneExecutor
from leanforge.state import RepoPaths


@pytest.fixture
def repo(tmp_path: Path, run_git: Callable[..., str]) -> RepoPaths:
    """A checkout with one commit, a task record holding a secret, and two task worktrees."""
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    run_git("init", "-q", "-b", "main", cwd=workdir)
    (workdir / "README.md").write_text("the user's checkout\n")
    (workdir / "holdout_test.py").write_text("def test_private(): ...\n")
    run_git("add", ".", cwd=workdir)
    run_git("commit", "-q", "-m", "first commit", cwd=workdir)
    paths = RepoPaths(workdir=workdir.resolve(), common_dir=(workdir / ".git").resolve())
    secret = paths.task_dir("x") / "secret"
    secret.parent.mkdir(parents=True)
    secret.write_text("held-out answer\n")
    for slug in ("task", "other"):
        run_git(
            "worktree", "add", "-q", "-b", f"forge/{slug}", str(paths.worktree(slug)), cwd=workdir
        )
    (paths.worktree("other") / "other-work.txt").write_text("another task's work\n")
    return paths


@pytest.fixture
def worktree(repo: RepoPaths) -> Path:
    """The task worktree each run works in."""
    return repo.worktree("task")


@pytest.fixture
def other_worktree(repo: RepoPaths) -> Path:
    return repo.worktree("other")


@pytest.fixture
def secret(repo: RepoPaths) -> Path:
    """A file in the state dir, standing for the lock and the held-out tests."""
    return repo.task_dir("x") / "secret"


@pytest.fixture
def layout(repo: RepoPaths) -> Layout:
    return layout_for(repo, Path(sys.executable))


@pytest.fixture
def bwrap_executor(layout: Layout) -> BwrapExecutor:
    return BwrapExecutor(layout)


#: Builds a request running a Python snippet (plus args) in the task worktree, mounted writable.
RequestFor = Callable[..., RunRequest]


@pytest.fixture
def request_for(worktree: Path) -> RequestFor:
    def build(
        code: str,
        *args: str,
        mounts: tuple[Mount, ...] = (Mount(worktree, writable=True),),
        env: dict[str, str] | None = None,
        timeout: float = 30.0,
        output_limit: int = 1_000_000,
    ) -> RunRequest:
        return RunRequest(
            argv=(sys.executable, "-I", "-c", code, *args),
            cwd=worktree,
            env=scrub_env(os.environ) if env is None else env,
            timeout=timeout,
            mounts=mounts,
            output_limit=output_limit,
        )

    return build


@pytest.fixture(params=["none", pytest.param("bwrap", marks=pytest.mark.bwrap)])
def any_executor(request: pytest.FixtureRequest, layout: Layout) -> Executor:
    """Each executor in turn: behaviour other than isolation must not depend on the choice."""
    if request.param == "bwrap":
        return BwrapExecutor(layout)
    return NoneExecutor(warn=lambda message: None)
