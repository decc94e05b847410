"""The bash tool: one sandboxed process per command, a bounded, labelled result."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from leanforge.agent.protocol import BASH
from leanforge.agent.tools import Toolbox, ToolResult
from leanforge.agent.tools.bash import RESTARTED, bash_env, cap, format_result, sandbox_failed
from leanforge.sandbox.base import Mount, RunResult

if TYPE_CHECKING:  # the fixtures' types; pytest loads conftest itself
    from conftest import CountingExecutor, MakeToolbox, Repo

API_KEY = "sk-ant-test-0123456789-never-in-a-sandbox"  # as conftest puts in source_env


def sh(toolbox: Toolbox, command: str, timeout: float | None = None) -> ToolResult:
    return toolbox.run(BASH, {"command": command}, timeout=timeout)


class TestFormatting:
    def test_cap_keeps_head_and_tail(self) -> None:
        assert cap("short", 10) == "short"
        text = "".join(f"{n}\n" for n in range(1000))
        capped = cap(text, 100)
        assert capped.startswith("0\n1\n2\n") and capped.endswith("998\n999\n")
        marker = f"\n[... {len(text) - 100} characters cut: output over 100 characters; "
        assert marker in capped
        assert len(capped) < 100 + len(marker) + 60
        assert f"[... at least {len(text) - 100} characters" in cap(text, 100, captured_cut=True)

    def test_exit_code_and_labelled_stderr(self) -> None:
        result = RunResult(returncode=3, stdout="out", stderr="err\n")
        assert format_result(result, seconds=300, why="", limit=100) == ToolResult(
            "out\n[stderr]\nerr\n[exit code: 3]"
        )
        quiet = RunResult(returncode=0, stdout="", stderr="")
        assert format_result(quiet, seconds=300, why="", limit=100) == ToolResult(
            "(no output)\n[exit code: 0]"
        )

    def test_a_timeout_is_an_error(self) -> None:
        result = RunResult(returncode=-9, stdout="started\n", stderr="", timed_out=True)
        assert format_result(
            result, seconds=2.5, why="the session's remaining time", limit=100
        ) == ToolResult(
            "started\n[killed after 2.5 s: the command did not finish within the session's "
            "remaining time]",
            True,
        )

    def test_a_sandbox_failure_is_an_error(self) -> None:
        spawn = RunResult(returncode=127, stdout="", stderr="cannot start /usr/bin/bwrap: gone\n")
        bwrap = RunResult(returncode=1, stdout="", stderr="bwrap: Can't mount\n", executor="bwrap")
        for result in (spawn, bwrap):
            assert sandbox_failed(result)
            formatted = format_result(result, seconds=1, why="", limit=1000)
            assert formatted.is_error and formatted.text.endswith(
                f"[sandbox failure: the command did not run (exit code {result.returncode})]"
            )
        # A command that is not found, or fails, ran: that is information, not a tool error.
        assert not sandbox_failed(RunResult(returncode=127, stdout="", stderr="bash: x: not found"))
        assert not sandbox_failed(
            RunResult(returncode=1, stdout="", stderr="bwrap: x", executor="none")
        )

    def test_the_projects_python_comes_first(self) -> None:
        env = bash_env({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, Path("/venv/bin/python"))
        assert env == {
            "PATH": "/venv/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }


class TestRuns:
    """The same commands with each executor: only isolation may differ."""

    def test_output_then_exit_code(self, toolbox: Toolbox) -> None:
        result = sh(toolbox, "echo out; echo err >&2; exit 3")
        assert result == ToolResult("out\n[stderr]\nerr\n[exit code: 3]")

    def test_cwd_home_and_python(self, toolbox: Toolbox, worktree: Path, scratch: Path) -> None:
        result = sh(toolbox, 'pwd; echo "$HOME $TMPDIR"; python -c "import sys; print(sys.prefix)"')
        assert result.text == f"{worktree}\n{scratch} {scratch}\n{sys.prefix}\n[exit code: 0]"

    def test_the_argv_is_hosts_bash(self, toolbox: Toolbox, executor: CountingExecutor) -> None:
        sh(toolbox, "true")
        (request,) = executor.requests
        assert request.argv == (shutil.which("bash"), "-c", "true")

    def test_no_secret_reaches_the_command(self, toolbox: Toolbox) -> None:
        result = sh(toolbox, "env")
        assert "HOME=" in result.text
        assert API_KEY not in result.text and "ANTHROPIC" not in result.text

    def test_nothing_carries_over_between_commands(self, toolbox: Toolbox, worktree: Path) -> None:
        sh(toolbox, "cd src && export X=1")
        assert sh(toolbox, 'pwd; echo "[$X]"').text == f"{worktree}\n[]\n[exit code: 0]"
        assert toolbox.run(BASH, {"restart": True}) == ToolResult(RESTARTED)
        assert "fresh process" in RESTARTED and "no state" in RESTARTED

    def test_writes_land_in_the_worktree(self, toolbox: Toolbox, worktree: Path) -> None:
        result = sh(toolbox, "echo made > made.txt && cd src && python -c 'import app'")
        assert result == ToolResult("(no output)\n[exit code: 0]")
        assert (worktree / "made.txt").read_text() == "made\n"
        assert not (worktree / "src" / "__pycache__").exists()

    def test_long_output_keeps_head_and_tail(
        self, make_toolbox: MakeToolbox, executor: CountingExecutor
    ) -> None:
        result = sh(
            make_toolbox(executor, output_limit=2000), "seq 1 100000; echo failed at the end >&2"
        )
        assert not result.is_error
        assert result.text.startswith("1\n2\n3\n")
        assert result.text.endswith("99999\n100000\n[stderr]\nfailed at the end\n[exit code: 0]")
        assert "characters cut: output over 2000 characters" in result.text
        assert len(result.text) < 2000 + 400

    def test_the_per_command_limit(
        self, make_toolbox: MakeToolbox, executor: CountingExecutor
    ) -> None:
        result = sh(make_toolbox(executor, bash_timeout=0.5), "echo started; sleep 30")
        assert result == ToolResult(
            "started\n[killed after 0.5 s: the command did not finish within the 0.5 s limit "
            "per command]",
            True,
        )

    def test_the_sessions_remaining_time(self, toolbox: Toolbox) -> None:
        result = sh(toolbox, "sleep 30", timeout=0.5)
        assert result.is_error
        assert result.text.endswith(
            "[killed after 0.5 s: the command did not finish within the session's remaining time]"
        )


class TestRefusedWithoutRunning:
    @pytest.mark.parametrize(
        ("tool_input", "message"),
        [
            ("ls", "the input must be a JSON object with a `command` string"),
            ({}, "`command` is missing: bash needs a command string (or restart: true)"),
            ({"command": None}, "`command` is missing"),
            ({"command": ["ls"]}, "`command` must be a string"),
            ({"command": "  "}, "`command` is empty"),
            ({"command": "echo a\0b"}, "`command` contains a NUL character"),
            ({"command": "echo \ud800"}, "lone surrogate"),
            ({"restart": "yes"}, "`restart` must be true or false"),
            ({"restart": True, "command": "ls"}, "give either `command` or `restart`, not both"),
        ],
    )
    def test_bad_input(
        self, toolbox: Toolbox, executor: CountingExecutor, tool_input: object, message: str
    ) -> None:
        result = toolbox.run(BASH, tool_input)
        assert result.is_error and message in result.text
        assert executor.requests == []

    def test_restart_runs_nothing(self, toolbox: Toolbox, executor: CountingExecutor) -> None:
        assert not toolbox.run(BASH, {"restart": True}).is_error
        assert executor.requests == []

    def test_no_time_left(self, toolbox: Toolbox, executor: CountingExecutor) -> None:
        result = sh(toolbox, "ls", timeout=-1)
        assert result == ToolResult(
            "no time is left in this session; the command was not run", True
        )
        assert executor.requests == []


@pytest.mark.bwrap
class TestIsolation:
    @pytest.fixture
    def sandboxed(self, make_toolbox: MakeToolbox, bwrap_executor: CountingExecutor) -> Toolbox:
        return make_toolbox(bwrap_executor)

    def test_the_state_dir_is_hidden(self, sandboxed: Toolbox, repo: Repo) -> None:
        result = sh(sandboxed, f"cat {repo.secret}")
        assert result.text.endswith("No such file or directory\n[exit code: 1]")
        assert "held-out answer" not in result.text

    def test_a_symlink_into_the_state_dir_leads_nowhere(
        self, sandboxed: Toolbox, worktree: Path, repo: Repo
    ) -> None:
        (worktree / "answers").symlink_to(repo.secret)
        (worktree / "state").symlink_to(repo.paths.state_dir)
        for command in ("cat answers", "cat state/tasks/x/secret"):
            result = sh(sandboxed, command)
            assert result.text.endswith("No such file or directory\n[exit code: 1]")
            assert "held-out answer" not in result.text
        assert sh(sandboxed, "ls -A state").text == "(no output)\n[exit code: 0]"

    def test_the_checkout_and_other_worktrees_are_hidden(
        self, sandboxed: Toolbox, repo: Repo
    ) -> None:
        checkout = sh(sandboxed, f"ls -A {repo.paths.workdir}")
        assert "README.md" not in checkout.text
        others = sh(sandboxed, f"ls -A {repo.paths.worktrees_dir}")
        assert others.text == "task\n[exit code: 0]"

    def test_read_only(
        self,
        make_toolbox: MakeToolbox,
        bwrap_executor: CountingExecutor,
        worktree: Path,
        scratch: Path,
    ) -> None:
        reviewer = make_toolbox(bwrap_executor, read_only=True)
        result = sh(reviewer, "touch x")
        assert result == ToolResult(
            "[stderr]\ntouch: cannot touch 'x': Read-only file system\n[exit code: 1]"
        )
        assert not (worktree / "x").exists()
        assert sh(reviewer, 'touch "$HOME/notes" && cat src/app.py').text.endswith("[exit code: 0]")
        assert (scratch / "notes").exists()
        assert bwrap_executor.requests[0].mounts == (
            Mount(worktree, writable=False),
            Mount(scratch, writable=True),
        )
