"""The text editor tool (``text_editor_20250728``): input checked here, file work in the sandbox.

A call is validated and its path confined to the worktree on the host, so bad input and escapes
are refused without running anything; then ``editor_ops``' own source runs in the sandbox with
the checked request on stdin, and does the reading and writing there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leanforge.agent.tools import editor_ops
from leanforge.agent.tools.binding import Binding
from leanforge.agent.tools.editor_ops import READ_ONLY, WRITE_COMMANDS, EditorError, ToolResult
from leanforge.sandbox.base import RunRequest, RunResult

#: An edit is a few file operations; if it takes longer, something is wrong.
EDITOR_SECONDS = 60.0

#: What each command needs, for the error naming a missing field.
REQUIRED = {
    "view": ("path",),
    "create": ("path", "file_text"),
    "str_replace": ("path", "old_str"),
    "insert": ("path", "insert_line", "insert_text"),
}
_KINDS = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}


def parse_input(tool_input: object) -> dict[str, Any]:
    """Check one call's input and return it normalized; EditorError names the field at fault."""
    if not isinstance(tool_input, Mapping):
        raise EditorError(f"the input must be a JSON object, not {_kind(tool_input)}")
    command = tool_input.get("command")
    if command == "undo_edit":
        raise EditorError(
            "undo_edit is not supported by text_editor_20250728; to revert, make the reverse "
            "edit with str_replace (view the file first)"
        )
    if not isinstance(command, str) or command not in REQUIRED:
        got = "it is missing" if command is None else f"got {_short(command)}"
        raise EditorError(f"`command` must be one of: {', '.join(REQUIRED)} ({got})")
    op: dict[str, Any] = {"command": command, "path": _text(tool_input, command, "path")}
    if command == "view" and tool_input.get("view_range") is not None:
        op["view_range"] = _view_range(tool_input["view_range"])
    elif command == "create":
        op["file_text"] = _text(tool_input, command, "file_text")
    elif command == "str_replace":
        op["old_str"] = _text(tool_input, command, "old_str")
        if not op["old_str"]:
            raise EditorError("`old_str` is empty; give the exact text to replace, or use insert")
        op["new_str"] = _text(tool_input, command, "new_str", default="")
    elif command == "insert":
        line = tool_input.get("insert_line")
        if not _is_int(line):
            raise EditorError(f"`insert_line` must be an integer, not {_kind(line)}")
        op["insert_line"] = line
        op["insert_text"] = _insert_text(tool_input)
    return op


def _insert_text(tool_input: Mapping[str, Any]) -> str:
    """The text to insert: ``insert_text`` (the 20250728 name) or ``new_str`` (older tools)."""
    keys = [key for key in ("insert_text", "new_str") if tool_input.get(key) is not None]
    if not keys:
        return _text(tool_input, "insert", "insert_text")  # says what is missing
    given = {_text(tool_input, "insert", key) for key in keys}
    if len(given) > 1:
        raise EditorError("`insert_text` and `new_str` differ; give the text once, as insert_text")
    text = given.pop()
    if not text:
        raise EditorError("`insert_text` is empty; there is nothing to insert")
    return text


def _text(tool_input: Mapping[str, Any], command: str, key: str, default: str = "") -> str:
    value = tool_input.get(key)
    if value is None and key not in REQUIRED[command]:
        return default
    if value is None:
        needs = ", ".join(REQUIRED[command])
        raise EditorError(f"`{key}` is missing: {command} needs {needs}")
    if not isinstance(value, str):
        raise EditorError(f"`{key}` must be a string, not {_kind(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EditorError(f"`{key}` is not valid Unicode text (it has a lone surrogate)") from None
    return value


def _view_range(value: object) -> list[int]:
    if not (isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)):
        raise EditorError(f"`view_range` must be two integers [start, end], not {_short(value)}")
    start, end = value
    if start < 1 or (end != -1 and end < start):
        raise EditorError(
            f"`view_range` {value} is invalid: lines count from 1; end >= start or -1"
        )
    return [start, end]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return _KINDS.get(type(value), "an object")


def _short(value: object) -> str:
    try:
        text = json.dumps(value, default=repr)
    except ValueError:  # a circular structure: never from JSON, but no crash either
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def decode_result(result: RunResult, seconds: float) -> ToolResult:
    """The editor's answer from a sandboxed run, or an error result saying why there is none."""
    if result.timed_out:
        return ToolResult(f"the editor was killed after {round(seconds, 1):g} s unfinished", True)
    try:
        answer = json.loads(result.stdout)
    except ValueError:
        answer = None
    if (
        isinstance(answer, dict)
        and isinstance(answer.get("text"), str)
        and isinstance(answer.get("is_error"), bool)
    ):
        return ToolResult(answer["text"], answer["is_error"])
    detail = (result.stderr.strip() or result.stdout.strip() or "no output")[-2000:]
    return ToolResult(
        f"the editor failed in the sandbox (exit {result.returncode}): {detail}", True
    )


class EditorTool:
    """``str_replace_based_edit_tool`` bound to one worktree, each call run in the sandbox."""

    def __init__(self, binding: Binding, *, read_only: bool, output_limit: int) -> None:
        self.worktree = binding.worktree
        self.executor = binding.executor
        self.python = binding.python
        self.mounts = binding.mounts
        self.env = dict(binding.env)
        self.read_only = read_only
        self.output_limit = output_limit
        # Passed with -c, not by path: the package may sit in a directory the sandbox hides.
        self._source = Path(editor_ops.__file__).read_text(encoding="utf-8")

    def run(self, tool_input: object, *, timeout: float | None = None) -> ToolResult:
        """Run one call; bad input, escapes and read-only writes are refused before any run."""
        try:
            op = parse_input(tool_input)
            if self.read_only and op["command"] in WRITE_COMMANDS:
                raise EditorError(READ_ONLY)
            # The sandbox gets the real path: an alias of it may not exist in there.
            op["path"] = editor_ops.confine(str(self.worktree), op["path"])
        except EditorError as exc:
            return ToolResult(str(exc), is_error=True)
        seconds = EDITOR_SECONDS if timeout is None else min(EDITOR_SECONDS, timeout)
        if seconds <= 0:
            return ToolResult("no time is left in this session; nothing was done", True)
        payload = {
            "root": str(self.worktree),
            "op": op,
            "read_only": self.read_only,
            "limit": self.output_limit,
        }
        request = RunRequest(
            argv=(str(self.python), "-I", "-B", "-c", self._source),
            cwd=self.worktree,
            env=self.env,
            timeout=seconds,
            mounts=self.mounts,
            # The answer is JSON: room for every character escaped, so it is never cut.
            output_limit=6 * self.output_limit + 65_536,
            stdin=json.dumps(payload).encode(),
        )
        return decode_result(self.executor.run(request), seconds)
