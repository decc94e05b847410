"""The editor tool end to end: input checked on the host, the file work done in the sandbox."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from leanforge.agent.protocol import EDITOR
from leanforge.agent.tools import Toolbox, ToolResult, editor_ops
from leanforge.agent.tools.binding import Binding
from leanforge.agent.tools.editor import EditorTool, decode_result, parse_input
from leanforge.agent.tools.editor_ops import READ_ONLY, EditorError
from leanforge.sandbox.base import Mount, RunRequest, RunResult

if TYPE_CHECKING:  # the fixtures' types; pytest loads conftest itself
    from conftest import CountingExecutor, MakeToolbox, Repo


VIEW = {"command": "view", "path": "a"}
REPLACE = {"command": "str_replace", "path": "a", "old_str": "x"}
INSERT = {"command": "insert", "path": "a", "insert_line": 1, "insert_text": "t"}


class TestParseInput:
    def test_normalizes_each_command(self) -> None:
        assert parse_input(VIEW) == VIEW
        assert parse_input({**VIEW, "view_range": [2, -1]}) == {**VIEW, "view_range": [2, -1]}
        assert parse_input(REPLACE) == {**REPLACE, "new_str": ""}
        assert parse_input({**REPLACE, "new_str": None}) == {**REPLACE, "new_str": ""}
        assert parse_input(INSERT) == INSERT
        assert parse_input({**INSERT, "new_str": "t"}) == INSERT  # both given, and the same
        older = {"command": "insert", "path": "a", "insert_line": 1, "new_str": "t"}
        assert parse_input(older) == INSERT

    @pytest.mark.parametrize(
        ("tool_input", "message"),
        [
            ("view a", "the input must be a JSON object, not a string"),
            ({}, "`command` must be one of: view, create, str_replace, insert (it is missing)"),
            ({**VIEW, "command": "delete"}, 'str_replace, insert (got "delete")'),
            ({**VIEW, "command": ["view"]}, 'got ["view"]'),
            ({"command": "view"}, "`path` is missing: view needs path"),
            ({**VIEW, "path": 3}, "`path` must be a string, not a number"),
            ({**VIEW, "view_range": [1]}, "`view_range` must be two integers"),
            ({**VIEW, "view_range": "1-5"}, "`view_range` must be two integers"),
            ({**VIEW, "view_range": [True, 2]}, "`view_range` must be two integers"),
            ({**VIEW, "view_range": [0, 5]}, "lines count from 1"),
            ({**VIEW, "view_range": [5, 2]}, "end >= start or -1"),
            ({"command": "create", "path": "a"}, "`file_text` is missing: create needs path, "),
            ({"command": "create", "path": "a", "file_text": None}, "`file_text` is missing"),
            ({"command": "create", "path": "a", "file_text": {}}, "not an object"),
            ({"command": "create", "path": "a", "file_text": "\ud800"}, "lone surrogate"),
            ({**REPLACE, "old_str": None}, "`old_str` is missing: str_replace needs path, old_"),
            ({**REPLACE, "old_str": ""}, "`old_str` is empty"),
            ({**REPLACE, "new_str": 5}, "`new_str` must be a string, not a number"),
            ({**INSERT, "insert_line": None}, "`insert_line` must be an integer, not null"),
            ({**INSERT, "insert_line": "3"}, "`insert_line` must be an integer, not a string"),
            ({**INSERT, "insert_line": 1.0}, "`insert_line` must be an integer, not a number"),
            ({**INSERT, "insert_text": None}, "`insert_text` is missing: insert needs path, "),
            ({**INSERT, "insert_text": ""}, "`insert_text` is empty"),
            ({**INSERT, "new_str": "b"}, "`insert_text` and `new_str` differ"),
            ({**VIEW, "command": "undo_edit"}, "not supported by text_editor_20250728"),
        ],
    )
    def test_bad_input_names_the_field(self, tool_input: object, message: str) -> None:
        with pytest.raises(EditorError) as caught:
            parse_input(tool_input)
        assert message in str(caught.value)


def test_decode_result() -> None:
    answer = RunResult(
        returncode=0, stdout=json.dumps({"text": "ok", "is_error": False}), stderr=""
    )
    assert decode_result(answer, 60) == ToolResult("ok")
    crashed = RunResult(returncode=1, stdout="", stderr="Traceback...\nMemoryError\n")
    assert decode_result(crashed, 60) == ToolResult(
        "the editor failed in the sandbox (exit 1): Traceback...\nMemoryError", True
    )
    slow = RunResult(returncode=-9, stdout="", stderr="", timed_out=True)
    assert decode_result(slow, 2.5) == ToolResult(
        "the editor was killed after 2.5 s unfinished", True
    )


def edit(toolbox: Toolbox, **tool_input: Any) -> ToolResult:
    return toolbox.run(EDITOR, tool_input)


class TestInTheSandbox:
    """The same calls with each executor: only isolation may differ."""

    def test_view_create_replace_insert(
        self, toolbox: Toolbox, worktree: Path, executor: CountingExecutor
    ) -> None:
        view = edit(toolbox, command="view", path="src/app.py")
        assert view == ToolResult(
            "Here's the result of running `cat -n` on src/app.py:\n"
            "     1\tdef add(a, b):\n     2\t    return a - b"
        )
        assert edit(
            toolbox, command="create", path="tests/test_app.py", file_text="from app import add\n"
        ) == ToolResult("Created the file tests/test_app.py (1 line).")
        replaced = edit(
            toolbox, command="str_replace", path="src/app.py", old_str="a - b", new_str="a + b"
        )
        assert replaced.text.startswith("The file src/app.py has been edited.")
        inserted = edit(
            toolbox, command="insert", path="src/app.py", insert_line=0, insert_text='"""Math."""\n'
        )
        assert "inserted 1 line after line 0" in inserted.text
        assert (
            worktree / "src" / "app.py"
        ).read_text() == '"""Math."""\ndef add(a, b):\n    return a + b\n'
        assert (worktree / "tests" / "test_app.py").read_text() == "from app import add\n"
        assert len(executor.requests) == 4

    def test_each_run_is_the_editor_script_in_the_worktree(
        self, toolbox: Toolbox, worktree: Path, scratch: Path, executor: CountingExecutor
    ) -> None:
        edit(toolbox, command="view", path=".")
        (request,) = executor.requests
        assert request.argv == (
            sys.executable,
            "-I",
            "-B",
            "-c",
            Path(editor_ops.__file__).read_text(),
        )
        assert request.cwd == worktree
        assert request.mounts == (Mount(worktree, writable=True), Mount(scratch, writable=True))
        assert request.env["HOME"] == request.env["TMPDIR"] == str(scratch)
        assert not any("ANTHROPIC" in name for name in request.env)
        assert json.loads(request.stdin)["op"] == {"command": "view", "path": str(worktree)}

    def test_an_absolute_path_inside_the_worktree(self, toolbox: Toolbox, worktree: Path) -> None:
        result = edit(
            toolbox, command="view", path=str(worktree / "src" / "app.py"), view_range=[2, 2]
        )
        assert result.text.endswith("     2\t    return a - b")

    def test_the_worktree_listing_leaves_git_out(self, toolbox: Toolbox) -> None:
        result = edit(toolbox, command="view", path=".")
        assert result.text.split("\n")[1:] == ["README.md", "src/", "src/app.py"]

    def test_failures_come_back_as_error_results(self, toolbox: Toolbox) -> None:
        missing = edit(toolbox, command="str_replace", path="nope.py", old_str="x")
        assert missing == ToolResult("nope.py does not exist; to make a new file, use create", True)
        twice = edit(toolbox, command="create", path="twice.py", file_text="x\nx\n")
        assert not twice.is_error
        ambiguous = edit(toolbox, command="str_replace", path="twice.py", old_str="x", new_str="y")
        assert ambiguous.is_error and "at lines 1, 2" in ambiguous.text

    def test_output_is_limited(
        self, make_toolbox: MakeToolbox, worktree: Path, executor: CountingExecutor
    ) -> None:
        (worktree / "big.txt").write_text("".join(f"line {n}\n" for n in range(10_000)))
        result = edit(make_toolbox(executor, output_limit=3000), command="view", path="big.txt")
        assert len(result.text) <= 3000
        assert "view the rest with view_range" in result.text


class TestRefusedWithoutRunning:
    """Escapes, bad input and read-only writes never reach the sandbox."""

    def test_escapes(
        self, toolbox: Toolbox, worktree: Path, repo: Repo, executor: CountingExecutor
    ) -> None:
        (worktree / "answers").symlink_to(repo.secret)
        (worktree / "state").symlink_to(repo.paths.state_dir)
        (worktree / "new.py").symlink_to(repo.paths.workdir / "planted.py")
        cases = [
            {"command": "view", "path": "../../forge/tasks/x/secret"},
            {"command": "view", "path": "/etc/passwd"},
            {"command": "view", "path": str(repo.secret)},
            {"command": "view", "path": "answers"},
            {"command": "str_replace", "path": "state/tasks/x/secret", "old_str": "held"},
            {"command": "create", "path": "new.py", "file_text": "planted"},
            {"command": "create", "path": "../other/x.py", "file_text": "x"},
        ]
        for tool_input in cases:
            result = toolbox.run(EDITOR, tool_input)
            assert result.is_error, tool_input
            assert "outside the worktree" in result.text
            assert "held-out answer" not in result.text
        assert executor.requests == []
        assert not (repo.paths.workdir / "planted.py").exists()

    @pytest.mark.parametrize("path", [".git", ".git/HEAD", "src/../.git"])
    def test_git(self, toolbox: Toolbox, executor: CountingExecutor, path: str) -> None:
        for tool_input in (
            {"command": "view", "path": path},
            {"command": "create", "path": path, "file_text": ""},
        ):
            result = toolbox.run(EDITOR, tool_input)
            assert result.is_error and "inside .git" in result.text
        assert executor.requests == []

    @pytest.mark.parametrize(
        "tool_input",
        [
            None,
            [],
            {"command": "undo_edit", "path": "src/app.py"},
            {"command": "view", "path": None},
            {"command": "insert", "path": "src/app.py", "insert_line": -1.0},
        ],
    )
    def test_bad_input(
        self, toolbox: Toolbox, executor: CountingExecutor, tool_input: object
    ) -> None:
        assert toolbox.run(EDITOR, tool_input).is_error
        assert executor.requests == []

    def test_no_time_left(self, toolbox: Toolbox, executor: CountingExecutor) -> None:
        result = toolbox.run(EDITOR, {"command": "view", "path": "."}, timeout=0)
        assert result == ToolResult("no time is left in this session; nothing was done", True)
        assert executor.requests == []

    def test_read_only_writes(
        self, make_toolbox: MakeToolbox, worktree: Path, executor: CountingExecutor
    ) -> None:
        reviewer = make_toolbox(executor, read_only=True)
        before = (worktree / "src" / "app.py").read_text()
        for tool_input in (
            {"command": "create", "path": "x.py", "file_text": ""},
            {
                "command": "str_replace",
                "path": "src/app.py",
                "old_str": "a - b",
                "new_str": "a + b",
            },
            {"command": "insert", "path": "src/app.py", "insert_line": 0, "insert_text": "x"},
        ):
            assert reviewer.run(EDITOR, tool_input) == ToolResult(READ_ONLY, True)
        assert executor.requests == []
        assert (worktree / "src" / "app.py").read_text() == before
        assert not (worktree / "x.py").exists()
        assert (
            "return a - b" in reviewer.run(EDITOR, {"command": "view", "path": "src/app.py"}).text
        )
        (request,) = executor.requests
        assert request.mounts[0] == Mount(worktree, writable=False)


@pytest.mark.bwrap
class TestSandboxHolds:
    """Were the host's checks bypassed, the sandbox would still refuse."""

    def test_the_sandboxed_script_checks_paths_itself(
        self, bwrap_executor: CountingExecutor, worktree: Path, repo: Repo, scratch: Path
    ) -> None:
        (worktree / "answers").symlink_to(repo.secret)
        source = Path(editor_ops.__file__).read_text()
        for path in ("answers", str(repo.secret), "../../forge/tasks/x/secret"):
            payload = {
                "root": str(worktree),
                "op": {"command": "view", "path": path},
                "read_only": False,
                "limit": 1000,
            }
            result = bwrap_executor.run(
                RunRequest(
                    argv=(sys.executable, "-I", "-B", "-c", source),
                    cwd=worktree,
                    env={"PATH": "/usr/bin:/bin"},
                    timeout=30,
                    mounts=(Mount(worktree, writable=True),),
                    stdin=json.dumps(payload).encode(),
                )
            )
            answer = decode_result(result, 30)
            assert answer.is_error and "outside the worktree" in answer.text, path

    def test_a_read_only_mount_stops_writes(
        self, bwrap_executor: CountingExecutor, worktree: Path, scratch: Path
    ) -> None:
        binding = Binding(
            worktree=worktree,
            executor=bwrap_executor,
            python=Path(sys.executable),
            mounts=(Mount(worktree, writable=False), Mount(scratch, writable=True)),
            env={"PATH": "/usr/bin:/bin"},
        )
        # The flag says yes; the mount still says no.
        tool = EditorTool(binding, read_only=False, output_limit=30_000)
        result = tool.run({"command": "create", "path": "x.py", "file_text": "x"})
        assert result == ToolResult("create x.py: Read-only file system", True)
        assert not (worktree / "x.py").exists()
