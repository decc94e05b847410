"""The client tools of one agent session, bound to its worktree and run through the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from leanforge.agent.protocol import BASH, EDITOR
from leanforge.agent.tools.bash import BashTool
from leanforge.agent.tools.binding import Binding
from leanforge.agent.tools.editor import EditorTool
from leanforge.agent.tools.editor_ops import ToolResult
from leanforge.sandbox.base import Executor, Mount, scrub_env


class Toolbox:
    """The editor and bash tools for one session; ``read_only`` for reviewers.

    ``scratch`` is a writable directory outside the worktree, the runs' HOME and TMPDIR; the
    caller creates and removes it. Secrets never reach a run: the environment is built from
    ``source_env`` by :func:`scrub_env`, with only ``passthrough`` names added.
    """

    def __init__(
        self,
        *,
        worktree: Path,
        executor: Executor,
        python: Path,
        scratch: Path,
        source_env: Mapping[str, str],
        passthrough: tuple[str, ...] = (),
        read_only: bool = False,
        bash_timeout: float = 300.0,
        output_limit: int = 30_000,
    ) -> None:
        # Resolved once: the sandbox mounts, the cwd and the path checks must all agree.
        worktree, scratch = worktree.resolve(), scratch.resolve()
        mounts = (Mount(worktree, writable=not read_only), Mount(scratch, writable=True))
        home = {"HOME": str(scratch), "TMPDIR": str(scratch)}
        env = scrub_env(source_env, passthrough=passthrough, extra=home)
        self.read_only = read_only
        binding = Binding(worktree, executor, python, mounts, env)
        self.editor = EditorTool(binding, read_only=read_only, output_limit=output_limit)
        self.bash = BashTool(binding, timeout=bash_timeout, output_limit=output_limit)

    def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult:
        """Run one client tool call.

        Never raises for bad input: errors are ToolResults with is_error=True. ``timeout`` is
        the session's remaining wall-clock time; each tool also has its own limit.
        """
        if name == EDITOR:
            return self.editor.run(tool_input, timeout=timeout)
        if name == BASH:
            return self.bash.run(tool_input, timeout=timeout)
        return ToolResult(f"unknown tool {name!r}; the client tools are {EDITOR} and {BASH}", True)
