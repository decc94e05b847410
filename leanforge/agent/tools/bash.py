"""The bash tool (``bash_20250124``): each command in a fresh sandboxed process, cwd = worktree.

No shell lives between calls, so ``restart`` has nothing to restart: every command starts clean,
and state carries over only through files. The result is stdout, then stderr under a
``[stderr]`` label, capped as a whole (head and tail kept), then a status line:

- ``[exit code: N]``: the command ran; a non-zero code is information, not a tool error;
- ``[killed after N s: ...]``: the time limit ended it (``is_error``);
- ``[sandbox failure: ...]``: the command never ran (``is_error``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from leanforge.agent.tools.binding import Binding
from leanforge.agent.tools.editor_ops import ToolResult
from leanforge.sandbox.base import RunRequest, RunResult
from leanforge.sandbox.process import SPAWN_FAILED_RETURNCODE

#: What the executor keeps of each stream (head and tail), before the result's own cap: enough
#: that the cap, not the capture, decides what is cut, except for runaway output.
CAPTURE_BYTES = 4_000_000

RESTARTED = (
    "bash restarted. There is no long-lived shell to restart: every command already runs in a "
    "fresh process, with the worktree root as its working directory, so no state (cwd, "
    "variables, background jobs) carries over between commands; keep state in files."
)


def bash_env(env: Mapping[str, str], python: Path) -> dict[str, str]:
    """The run's environment: ``python``'s bin dir first on PATH, so python and pytest are its."""
    out = dict(env)
    out["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ dirs left in the worktree
    bin_dir = str(python.absolute().parent)
    out["PATH"] = f"{bin_dir}:{out['PATH']}" if out.get("PATH") else bin_dir
    return out


def cap(text: str, limit: int, *, captured_cut: bool = False) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around a cut marker.

    The head shows what ran, the tail how it ended (and stderr, which comes last).
    ``captured_cut`` says the capture already dropped some, so the count is a lower bound.
    """
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    count = f"{'at least ' if captured_cut else ''}{len(text) - limit}"
    marker = (
        f"\n[... {count} characters cut: output over {limit} characters; "
        "redirect it to a file and read that in parts ...]\n"
    )
    return text[:head] + marker + text[len(text) - tail :]


def sandbox_failed(result: RunResult) -> bool:
    """Whether the command never ran: the sandbox could not start, or bubblewrap gave up."""
    if result.timed_out or result.returncode == 0 or result.stdout:
        return False
    if result.returncode == SPAWN_FAILED_RETURNCODE and result.stderr.startswith("cannot start "):
        return True
    return result.executor == "bwrap" and result.stderr.startswith("bwrap: ")


def format_result(result: RunResult, *, seconds: float, why: str, limit: int) -> ToolResult:
    """The model's view of a finished run: output, capped, and a status line."""
    body = result.stdout
    if result.stderr:
        body += ("" if not body or body.endswith("\n") else "\n") + "[stderr]\n" + result.stderr
    body = cap(body, limit, captured_cut=result.truncated) or "(no output)"
    body += "" if body.endswith("\n") else "\n"
    if result.timed_out:
        status = f"[killed after {round(seconds, 1):g} s: the command did not finish within {why}]"
    elif sandbox_failed(result):
        status = f"[sandbox failure: the command did not run (exit code {result.returncode})]"
    else:
        return ToolResult(f"{body}[exit code: {result.returncode}]")
    return ToolResult(body + status, is_error=True)


class BashTool:
    """``bash`` bound to one worktree: one sandboxed ``bash -c`` per command."""

    def __init__(self, binding: Binding, *, timeout: float, output_limit: int) -> None:
        self.worktree = binding.worktree
        self.executor = binding.executor
        self.mounts = binding.mounts
        self.env = bash_env(binding.env, binding.python)
        self.timeout = timeout
        self.output_limit = output_limit
        # Resolved on the host: the run's PATH is the sandbox's, and bash must be found.
        self.bash = shutil.which("bash") or "/bin/bash"

    def run(self, tool_input: object, *, timeout: float | None = None) -> ToolResult:
        """Run one command (or acknowledge a restart); bad input is an error result, not a run."""
        if not isinstance(tool_input, Mapping):
            return ToolResult("the input must be a JSON object with a `command` string", True)
        restart, command = tool_input.get("restart"), tool_input.get("command")
        if restart is not None and not isinstance(restart, bool):
            return ToolResult("`restart` must be true or false", True)
        if restart:
            if command is not None:
                return ToolResult("give either `command` or `restart`, not both", True)
            return ToolResult(RESTARTED)
        if not isinstance(command, str):
            missing = "is missing: bash needs a command string (or restart: true)"
            return ToolResult(
                f"`command` {missing if command is None else 'must be a string'}", True
            )
        problem = _command_problem(command)
        if problem:
            return ToolResult(problem, True)
        seconds, why = self.timeout, f"the {round(self.timeout, 1):g} s limit per command"
        if timeout is not None and timeout < seconds:
            seconds, why = timeout, "the session's remaining time"
        if seconds <= 0:
            return ToolResult("no time is left in this session; the command was not run", True)
        request = RunRequest(
            argv=(self.bash, "-c", command),
            cwd=self.worktree,
            env=self.env,
            timeout=seconds,
            mounts=self.mounts,
            output_limit=max(CAPTURE_BYTES, self.output_limit),
        )
        result = self.executor.run(request)
        return format_result(result, seconds=seconds, why=why, limit=self.output_limit)


def _command_problem(command: str) -> str:
    """Why ``command`` cannot run, or "" if it can."""
    if not command.strip():
        return "`command` is empty; give a shell command to run"
    if "\0" in command:
        return "`command` contains a NUL character, which no command line can carry"
    try:
        command.encode("utf-8")
    except UnicodeEncodeError:
        return "`command` is not valid Unicode text (it has a lone surrogate)"
    return ""
