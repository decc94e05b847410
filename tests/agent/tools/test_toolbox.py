"""The toolbox: one entry point for both client tools, shaped once for the whole session."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from leanforge.agent.protocol import BASH, EDITOR, client_tools
from leanforge.agent.tools import Toolbox, ToolResult
from leanforge.sandbox.bwrap import BwrapExecutor
from leanforge.sandbox.factory import layout_for

if TYPE_CHECKING:  # the fixtures' types; pytest loads conftest itself
    from conftest import CountingExecutor, MakeToolbox, Repo

PYTHON = Path(sys.executable)


def test_serves_exactly_the_protocols_client_tools(
    toolbox: Toolbox, executor: CountingExecutor
) -> None:
    assert [tool["name"] for tool in client_tools()] == [EDITOR, BASH]
    assert not toolbox.run(EDITOR, {"command": "view", "path": "."}).is_error
    assert toolbox.run(BASH, {"command": "ls src"}) == ToolResult("app.py\n[exit code: 0]")
    assert len(executor.requests) == 2


@pytest.mark.parametrize("name", ["submit_work", "Bash", "text_editor", ""])
def test_unknown_tools_are_refused(toolbox: Toolbox, executor: CountingExecutor, name: str) -> None:
    result = toolbox.run(name, {"command": "ls"})
    assert result == ToolResult(
        f"unknown tool {name!r}; the client tools are str_replace_based_edit_tool and bash", True
    )
    assert executor.requests == []


@pytest.mark.parametrize("tool_input", [None, "ls", 3, ["view"], {"command": 7}])
@pytest.mark.parametrize("name", [EDITOR, BASH])
def test_malformed_input_is_an_error_result(
    toolbox: Toolbox, executor: CountingExecutor, name: str, tool_input: object
) -> None:
    result = toolbox.run(name, tool_input)
    assert result.is_error and result.text
    assert executor.requests == []


def test_the_environment_is_scrubbed_with_passthrough(
    make_toolbox: MakeToolbox, executor: CountingExecutor, scratch: Path
) -> None:
    source = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "PYTHONPATH": "/somewhere/else",
        "FORGE_FLAG": "on",
        "GITHUB_TOKEN": "ghp_secret",
        "UNLISTED": "dropped",
    }
    toolbox = make_toolbox(executor, source_env=source, passthrough=("FORGE_FLAG", "GITHUB_TOKEN"))
    toolbox.run(EDITOR, {"command": "view", "path": "."})
    toolbox.run(BASH, {"command": "true"})
    editor_env, bash_env = (request.env for request in executor.requests)
    assert editor_env == {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "FORGE_FLAG": "on",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
    }
    assert bash_env["PATH"].endswith(":" + os.environ["PATH"])
    assert {name: value for name, value in bash_env.items() if name != "PATH"} == {
        **{name: value for name, value in editor_env.items() if name != "PATH"},
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def test_paths_are_resolved_once(
    make_toolbox: MakeToolbox, executor: CountingExecutor, worktree: Path, tmp_path: Path
) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(worktree)
    toolbox = make_toolbox(executor, worktree=alias)
    assert toolbox.run(BASH, {"command": "pwd -P"}).text == f"{worktree}\n[exit code: 0]"
    absolute = toolbox.run(EDITOR, {"command": "view", "path": str(alias / "src" / "app.py")})
    assert not absolute.is_error
    assert {request.cwd for request in executor.requests} == {worktree}


@pytest.mark.bwrap
def test_read_only_for_both_tools(
    make_toolbox: MakeToolbox, bwrap_executor: CountingExecutor, worktree: Path
) -> None:
    reviewer = make_toolbox(bwrap_executor, read_only=True)
    assert reviewer.run(EDITOR, {"command": "create", "path": "x.py", "file_text": ""}).is_error
    assert reviewer.run(BASH, {"command": "echo x > x.py"}).text.endswith("[exit code: 1]")
    assert "return a - b" in reviewer.run(EDITOR, {"command": "view", "path": "src/app.py"}).text
    assert "return a - b" in reviewer.run(BASH, {"command": "cat src/app.py"}).text
    assert not (worktree / "x.py").exists()


def test_a_sandbox_that_cannot_start_is_an_error_result(
    make_toolbox: MakeToolbox, executor: CountingExecutor, worktree: Path
) -> None:
    broken = make_toolbox(executor, python=worktree / "no-such-python")
    result = broken.run(EDITOR, {"command": "view", "path": "src/app.py"})
    assert result.is_error
    assert result.text.startswith("the editor failed in the sandbox (exit ")
    assert "no-such-python" in result.text


def test_bash_without_bubblewrap_is_a_sandbox_failure(
    make_toolbox: MakeToolbox, repo: Repo
) -> None:
    missing = BwrapExecutor(layout_for(repo.paths, PYTHON), bwrap="/nonexistent/bwrap")
    result = make_toolbox(missing).run(BASH, {"command": "echo hi"})
    assert result.is_error
    assert result.text.endswith("[sandbox failure: the command did not run (exit code 127)]")
