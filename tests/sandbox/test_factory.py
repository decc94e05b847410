"""Picking the executor for sandbox.mode, and the repository layout every sandbox starts from."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leanforge.errors import ConfigError, SandboxUnavailable
from leanforge.sandbox.base import Layout, RunRequest
from leanforge.sandbox.bwrap import BwrapExecutor, bwrap_works
from leanforge.sandbox.factory import layout_for, make_executor
from leanforge.sandbox.none import NoneExecutor
from leanforge.state import RepoPaths

RequestFor = Callable[..., RunRequest]

NO_BWRAP = "/nonexistent/bin/bwrap"


@pytest.fixture
def broken_bwrap(tmp_path: Path) -> str:
    """A bwrap that exists but cannot sandbox, as in a container without user namespaces."""
    script = tmp_path / "bwrap"
    script.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    script.chmod(0o755)
    return str(script)


def test_bwrap_works_is_false_without_bwrap(broken_bwrap: str) -> None:
    assert not bwrap_works(NO_BWRAP)
    assert not bwrap_works(broken_bwrap)


@pytest.mark.parametrize("bwrap", [NO_BWRAP, "broken"])
def test_mode_bwrap_refuses_to_run_unsandboxed(bwrap: str, broken_bwrap: str) -> None:
    program = broken_bwrap if bwrap == "broken" else bwrap
    with pytest.raises(
        SandboxUnavailable, match=r"apt-get install bubblewrap.*sandbox\.mode = \"none\""
    ):
        make_executor("bwrap", Layout(), warn=lambda message: None, bwrap=program)


def test_mode_auto_falls_back_to_none_and_says_why(request_for: RequestFor) -> None:
    seen: list[str] = []
    executor = make_executor("auto", Layout(), warn=seen.append, bwrap=NO_BWRAP)
    assert isinstance(executor, NoneExecutor)
    result = executor.run(request_for("print('ran')"))
    assert result.stdout == "ran\n"
    assert len(seen) == 1
    assert "without isolation" in seen[0]
    assert "bubblewrap unavailable" in seen[0]
    assert result.warnings == (seen[0],)


def test_mode_none_is_none_even_where_bwrap_works() -> None:
    seen: list[str] = []
    executor = make_executor("none", Layout(), warn=seen.append)
    assert isinstance(executor, NoneExecutor)
    assert 'sandbox.mode = "none"' in executor.warning


@pytest.mark.bwrap
@pytest.mark.parametrize("mode", ["auto", "bwrap"])
def test_modes_pick_bwrap_where_it_works(mode: str) -> None:
    layout = Layout(steps=(("hide", Path("/nonexistent")),))
    executor = make_executor(mode, layout, warn=lambda message: None)
    assert isinstance(executor, BwrapExecutor)
    assert executor.layout == layout


def test_an_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="auto, bwrap, none"):
        make_executor("docker", Layout(), warn=lambda message: None)


def test_layout_hides_checkout_shows_git_hides_state_and_worktrees(repo: RepoPaths) -> None:
    # The interpreter running the tests lives outside the checkout, so no venv step.
    layout = layout_for(repo, Path(sys.executable))
    assert layout.steps == (
        ("hide", repo.workdir),
        ("ro", repo.common_dir),
        ("hide", repo.state_dir),
        ("hide", repo.worktrees_dir),
    )


def test_layout_shows_a_venv_inside_the_checkout(tmp_path: Path) -> None:
    workdir = tmp_path / "checkout"
    python = workdir / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)  # a venv's python points out of it: the link is not followed
    paths = RepoPaths(workdir=workdir, common_dir=workdir / ".git")
    assert layout_for(paths, python).steps == (
        ("hide", workdir),
        ("ro", workdir / ".git"),
        ("ro", workdir / ".venv"),
        ("hide", workdir / ".git" / "forge"),
        ("hide", workdir / ".git" / "forge-worktrees"),
    )


def test_layout_refuses_an_interpreter_at_the_top_of_the_checkout(tmp_path: Path) -> None:
    for python in (tmp_path / "python", tmp_path / "bin" / "python"):
        with pytest.raises(SandboxUnavailable, match="virtualenv"):
            layout_for(RepoPaths(workdir=tmp_path, common_dir=tmp_path / ".git"), python)


def test_layout_with_the_git_dir_outside_the_checkout(tmp_path: Path) -> None:
    # `git init --separate-git-dir`: the common dir is not under the checkout, and stays visible.
    paths = RepoPaths(workdir=tmp_path / "checkout", common_dir=tmp_path / "repo.git")
    assert layout_for(paths, Path("/usr/bin/python3")).steps == (
        ("hide", tmp_path / "checkout"),
        ("ro", tmp_path / "repo.git"),
        ("hide", tmp_path / "repo.git" / "forge"),
        ("hide", tmp_path / "repo.git" / "forge-worktrees"),
    )


@pytest.mark.bwrap
def test_an_interpreter_under_tmp_still_runs_in_the_sandbox(
    repo: RepoPaths, worktree: Path, tmp_path: Path
) -> None:
    """bwrap gives every run an empty /tmp; a venv living there must be shown again."""
    import os
    import subprocess

    from leanforge.sandbox.base import Mount, scrub_env

    venv = Path("/tmp") / f"forge-venv-{os.getpid()}-{tmp_path.name}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    try:
        python = venv / "bin" / "python"
        layout = layout_for(repo, python)
        assert ("ro", venv.resolve()) in layout.steps
        result = BwrapExecutor(layout).run(
            RunRequest(
                argv=(str(python), "-c", "import sys; print(sys.prefix)"),
                cwd=worktree,
                env=scrub_env(os.environ),
                timeout=30,
                mounts=(Mount(worktree),),
            )
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(venv)
    finally:
        import shutil

        shutil.rmtree(venv, ignore_errors=True)


def test_an_interpreter_whose_root_contains_the_checkout_is_refused(tmp_path: Path) -> None:
    root = Path("/tmp") / f"forge-root-{tmp_path.name}"
    paths = RepoPaths(workdir=root / "proj", common_dir=root / "proj" / ".git")
    with pytest.raises(SandboxUnavailable, match="contains the checkout"):
        layout_for(paths, root / "bin" / "python")
