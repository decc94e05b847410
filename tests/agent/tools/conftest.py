"""A real repository shaped as forge leaves it: a checkout, a state dir with a secret, a worktree."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
import pytest

from leanforge.agent.tools import Toolbox
from leanforge.git.worktree import create_worktree
from leanforge.sandbox.base import Executor, RunRequest, RunResult
from leanforge.sandbox.bwrap import BwrapExecutor
from leanforge.sandbox.factory import layout_for
from leanforge.sandbox.none import NoneExecutor
from leanforge.state import RepoPaths, discover

#: Stands for the model API key in the environment forge itself runs with.
API_KEY = "sk-ant-test-0123456789-never-in-a-sandbox"
APP = "def add(a, b):\n    return a - b\n"
PYTHON = Path(sys.executable)


@dataclass(frozen=True)
class Repo:
    paths: RepoPaths
    #: The task's worktree, a real pygit2 linked worktree under ``<common>/forge-worktrees``.
    worktree: Path
    #: A file in the state dir, standing for the lock and the held-out tests.
    secret: Path


@pytest.fixture
def repo(tmp_path: Path, run_git: Callable[..., str]) -> Repo:
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    run_git("init", "-q", "-b", "main", cwd=workdir)
    (workdir / "src").mkdir()
    (workdir / "src" / "app.py").write_text(APP)
    (workdir / "README.md").write_text("the user's checkout\n")
    run_git("add", ".", cwd=workdir)
    run_git("commit", "-q", "-m", "first commit", cwd=workdir)
    repository, paths = discover(workdir)
    worktree = create_worktree(repository, paths, "task", repository.head.peel(pygit2.Commit))
    secret = paths.task_dir("x") / "secret"
    secret.parent.mkdir(parents=True)
    secret.write_text("held-out answer\n")
    return Repo(paths=paths, worktree=worktree, secret=secret)


@pytest.fixture
def worktree(repo: Repo) -> Path:
    return repo.worktree


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir()
    return path


class CountingExecutor:
    """Runs through another executor and keeps every request, to prove when nothing ran."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[RunRequest] = []

    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return self.inner.run(request)


@pytest.fixture
def bwrap_executor(repo: Repo) -> CountingExecutor:
    return CountingExecutor(BwrapExecutor(layout_for(repo.paths, PYTHON)))


@pytest.fixture
def none_executor() -> CountingExecutor:
    return CountingExecutor(NoneExecutor(warn=lambda message: None))


@pytest.fixture(params=["none", pytest.param("bwrap", marks=pytest.mark.bwrap)])
def executor(request: pytest.FixtureRequest, repo: Repo) -> CountingExecutor:
    """Each executor in turn: the tools' behaviour, isolation aside, must not depend on it."""
    if request.param == "bwrap":
        return CountingExecutor(BwrapExecutor(layout_for(repo.paths, PYTHON)))
    return CountingExecutor(NoneExecutor(warn=lambda message: None))


#: Builds a Toolbox on the task worktree with an executor; keyword arguments override defaults.
MakeToolbox = Callable[..., Toolbox]


@pytest.fixture
def make_toolbox(worktree: Path, scratch: Path) -> MakeToolbox:
    def make(executor: Executor, **options: Any) -> Toolbox:
        settings: dict[str, Any] = {
            "worktree": worktree,
            "executor": executor,
            "python": PYTHON,
            "scratch": scratch,
            "source_env": {**os.environ, "ANTHROPIC_API_KEY": API_KEY},
        }
        return Toolbox(**{**settings, **options})

    return make


@pytest.fixture
def toolbox(make_toolbox: MakeToolbox, executor: CountingExecutor) -> Toolbox:
    return make_toolbox(executor)
