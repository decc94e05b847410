"""The editor's file operations, run in the sandbox as ``python -I -B -c <this module's source>``.

The host (``editor.py``) validates a call, refuses paths that leave the worktree with this
module's :func:`confine` before anything runs, and sends the checked request as JSON on stdin.
The sandboxed copy checks the path again (defence in depth), does the work and prints a JSON
:class:`ToolResult` on stdout. So this module imports the standard library only: the sandbox
may not see leanforge at all.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

WRITE_COMMANDS = frozenset({"create", "str_replace", "insert"})
READ_ONLY = "this role is read-only: create, str_replace and insert are refused; view still works"
#: Lines of context shown around an edit.
SNIPPET_LINES = 4
#: Bigger files are for bash (head, sed -n, grep -n): reading them whole helps nobody.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Room kept under the output limit for a truncation note.
NOTE_ROOM = 300
_MAX_MATCHES = 1000
NL = "\n"


@dataclass(frozen=True)
class ToolResult:
    """What a client tool call returns to the model (here: the one module free of dependencies)."""

    text: str
    is_error: bool = False


class EditorError(ValueError):
    """A refusal whose message goes back to the model as an error result."""


def confine(root: str, path: str) -> str:
    """The real path of ``path`` under ``root``; EditorError if it leads outside or into .git.

    ``path`` is relative to ``root`` or absolute. Every symlink is resolved, the last component
    included (a dangling one too), so no link can lead an edit out of the worktree.
    """
    if not path.strip() or "\0" in path:
        raise EditorError(f"`path` {path!r} is unusable; give one relative to the worktree")
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))  # join keeps an absolute path as is
    if not _inside(real_root, real):
        lexical = os.path.normpath(os.path.join(os.path.abspath(root), path))
        via = " through a symlink" if _inside(os.path.abspath(root), lexical) else ""
        raise EditorError(
            f"{path} resolves{via} outside the worktree ({real_root}); only paths inside it can "
            "be viewed or edited, given relative to the worktree root"
        )
    if ".git" in os.path.relpath(real, real_root).split(os.sep):
        raise EditorError(f"{path} is inside .git, which is off limits; edit the working files")
    return real


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def split_lines(text: str) -> list[str]:
    """Lines as ``cat -n`` counts them, each keeping its ending; only "\\n" ends a line."""
    pieces = text.split("\n")
    return [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def fit(rows: Iterable[str], budget: int) -> tuple[list[str], bool]:
    """The leading ``rows`` that fit in ``budget`` characters, one per line; and whether all did."""
    kept: list[str] = []
    used = 0
    for row in rows:
        used += len(row) + 1
        if used > budget:
            return kept, False
        kept.append(row)
    return kept, True


def numbered(lines: list[str], first: int, budget: int) -> tuple[str, int]:
    """``cat -n`` rows numbered from ``first`` that fit in ``budget`` characters; and how many.

    When not even the first row fits, it is shown cut, and counted as not shown.
    """
    rows = [f"{n:6}\t{line.removesuffix(NL)}" for n, line in enumerate(lines, start=first)]
    kept, _ = fit(rows, budget)
    if not kept and rows:
        return rows[0][: max(budget, 0)], 0
    return "\n".join(kept), len(kept)


def view(real: str, shown: str, view_range: list[int] | None, limit: int) -> str:
    """A file with line numbers (or a range of it), or a directory's listing, within ``limit``."""
    if os.path.isdir(real):
        if view_range is not None:
            raise EditorError(f"{shown} is a directory; `view_range` only applies to files")
        return listing(real, shown, limit)
    lines = split_lines(read_text(real, shown))
    count = len(lines)
    start, end = view_range or (1, count)
    if view_range and (start > count or end > count):
        which = f"start {start}" if start > count else f"end {end}"
        raise EditorError(f"`view_range` {which} is past the end: {shown} has {count} lines")
    end = count if end == -1 else end
    if count == 0:
        return f"{shown} is empty (0 lines)."
    span = f" (lines {start}-{end} of {count})" if view_range else ""
    header = f"Here's the result of running `cat -n` on {shown}{span}:\n"
    body, fitted = numbered(lines[start - 1 : end], start, limit - len(header) - NOTE_ROOM)
    last = start + fitted - 1
    if last == end:
        return header + body
    if fitted:
        after = f"[{last + 1}, {min(end, last + fitted)}]"
        hint = f"lines {start}-{last} of {count} shown; view the rest with view_range, e.g. {after}"
    else:
        cut = f"sed -n {start}p {shown} | cut -c1-5000"
        hint = f"line {start} alone is longer; read it in parts with bash, e.g. {cut}"
    return f"{header}{body}\n[output truncated at {limit} characters: {hint}]"


def listing(real: str, shown: str, limit: int) -> str:
    """Files and directories up to two levels deep, hidden entries and __pycache__ left out."""
    header = (
        f"Files and directories in {shown}, up to 2 levels deep (hidden entries and __pycache__ "
        "left out; a trailing / marks a directory, @ a symlink):\n"
    )
    kept, complete = fit(_entries(real, shown, 1), limit - len(header) - NOTE_ROOM)
    body = "\n".join(kept) or "(empty)"
    if complete:
        return header + body
    return f"{header}{body}\n[listing truncated at {limit} characters; view a subdirectory]"


def _entries(path: str, rel: str, depth: int) -> Iterator[str]:
    try:
        with os.scandir(path) as scan:
            items = sorted(scan, key=lambda item: item.name)
    except OSError as exc:
        yield f"{rel}/ [cannot list: {exc.strerror}]"
        return
    for item in items:
        if item.name.startswith(".") or item.name == "__pycache__":
            continue
        name = item.name if rel == "." else f"{rel}/{item.name}"
        # Symlinks are listed, never followed: one could point at a directory outside.
        link = item.is_symlink()
        is_dir = not link and item.is_dir(follow_symlinks=False)
        yield name + ("@" if link else "/" if is_dir else "")
        if is_dir and depth < 2:
            yield from _entries(item.path, name, depth + 1)


def read_text(real: str, shown: str) -> str:
    """A regular file's UTF-8 text; EditorError for anything else (missing, binary, huge...)."""
    try:
        info = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):
        raise EditorError(f"{shown} does not exist; to make a new file, use create") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise EditorError(f"{shown} is {kind}; give the path of a file")
    if info.st_size > MAX_FILE_BYTES:
        raise EditorError(
            f"{shown} is {info.st_size} bytes, over the editor's {MAX_FILE_BYTES}-byte limit; "
            "read parts of it with bash (head, sed -n 'a,bp', grep -n)"
        )
    with open(real, "rb") as handle:
        data = handle.read()
    binary = f"{shown} is binary or not UTF-8; the editor handles UTF-8 text only (try bash)"
    if b"\0" in data:
        raise EditorError(binary)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditorError(f"{binary}; invalid UTF-8 at byte {exc.start}") from None


def write_text(real: str, text: str) -> None:
    # In place, so the file keeps its mode and its inode (hard links, open editors).
    with open(real, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def create(real: str, shown: str, file_text: str) -> str:
    existed = os.path.lexists(real)
    if existed and not os.path.isfile(real):
        raise EditorError(f"{shown} exists and is not a regular file; give the path of a file")
    os.makedirs(os.path.dirname(real), exist_ok=True)
    write_text(real, file_text)
    verb = "Overwrote the existing file" if existed else "Created the file"
    return f"{verb} {shown} ({plural(len(split_lines(file_text)), 'line')})."


def find_all(text: str, old: str) -> list[int]:
    """Every start offset of ``old`` in ``text``, overlapping ones included (up to a cap)."""
    starts: list[int] = []
    at = text.find(old)
    while at != -1 and len(starts) < _MAX_MATCHES:
        starts.append(at)
        at = text.find(old, at + 1)
    return starts


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def str_replace(real: str, shown: str, old: str, new: str, limit: int) -> str:
    text = read_text(real, shown)
    starts = find_all(text, old)
    if not starts:
        raise EditorError(not_found(text, old, shown))
    if len(starts) > 1:
        lines = ", ".join(str(line_of(text, at)) for at in starts[:50])
        raise EditorError(
            f"No replacement was performed: old_str occurs {len(starts)} times in {shown}, at "
            f"lines {lines}{', ...' if len(starts) > 50 else ''}. Include more surrounding "
            "lines in old_str so that it matches exactly once."
        )
    edited = text[: starts[0]] + new + text[starts[0] + len(old) :]
    write_text(real, edited)
    first = line_of(text, starts[0])
    last = first + max(len(split_lines(new)), 1) - 1
    return f"The file {shown} has been edited. {snippet(edited, shown, first, last, limit)}"


def not_found(text: str, old: str, shown: str) -> str:
    """The zero-match error, with a hint when line endings or indentation are the likely cause."""
    message = (
        f"No replacement was performed: old_str did not appear verbatim in {shown}. It must "
        "match exactly, whitespace and indentation included; view the file and copy the text."
    )
    if "\r\n" in text and "\n" in old and "\r\n" not in old:
        return message + " Note: the file has CRLF (\\r\\n) line endings."
    want = [line.strip() for line in old.strip("\n").split("\n")]
    have = [line.strip() for line in text.split("\n")]
    for index in range(len(have) - len(want) + 1):
        if have[index] == want[0] and have[index : index + len(want)] == want:
            hint = f"A match ignoring indentation and trailing spaces starts at line {index + 1}."
            return f"{message} {hint}"
    return message


def insert(real: str, shown: str, after: int, new_text: str, limit: int) -> str:
    lines = split_lines(read_text(real, shown))
    if not 0 <= after <= len(lines):
        raise EditorError(
            f"`insert_line` {after} is out of range: {shown} has {len(lines)} lines, so use 0 "
            f"(before the first line) to {len(lines)} (after the last)"
        )
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    added = new_text if new_text.endswith("\n") else new_text + eol
    if after == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += eol  # the old last line had no ending; the new text starts a line of its own
    edited = "".join(lines[:after]) + added + "".join(lines[after:])
    write_text(real, edited)
    count = added.count("\n")
    done = f"The file {shown} has been edited: inserted {plural(count, 'line')} after line {after}."
    return f"{done} {snippet(edited, shown, after + 1, after + count, limit)}"


def snippet(text: str, shown: str, first: int, last: int, limit: int) -> str:
    """The edited lines with a little context, numbered, for the model to check the edit."""
    lines = split_lines(text)
    start = max(1, first - SNIPPET_LINES)
    end = max(start, min(len(lines), last + SNIPPET_LINES))
    header = f"Here's the result of running `cat -n` on lines {start}-{end} of {shown}:\n"
    body, fitted = numbered(lines[start - 1 : end], start, limit - len(header) - NOTE_ROOM)
    cut = "" if fitted > end - start else "\n[snippet truncated: view the file with view_range]"
    return f"{header}{body}{cut}\nReview the changes; edit the file again if they are not right."


def execute(request: dict[str, Any]) -> ToolResult:
    """Carry out one request checked by the host: ``{"root", "op", "read_only", "limit"}``.

    ``op`` is the call's input as the host normalized it; every failure is an error result.
    """
    op: dict[str, Any] = request.get("op") or {}
    shown = op.get("path")
    try:
        real = confine(request["root"], op["path"])
        shown = os.path.relpath(real, os.path.realpath(request["root"]))
        command, limit = op["command"], int(request["limit"])
        if command in WRITE_COMMANDS and request.get("read_only", True):
            raise EditorError(READ_ONLY)
        if command == "view":
            text = view(real, shown, op.get("view_range"), limit)
        elif command == "create":
            text = create(real, shown, op["file_text"])
        elif command == "str_replace":
            text = str_replace(real, shown, op["old_str"], op["new_str"], limit)
        elif command == "insert":
            text = insert(real, shown, op["insert_line"], op["insert_text"], limit)
        else:
            raise EditorError(f"unknown command {command!r}")
    except EditorError as exc:
        return ToolResult(str(exc), is_error=True)
    except OSError as exc:
        return ToolResult(f"{op.get('command')} {shown}: {exc.strerror or exc}", True)
    return ToolResult(text)


def main() -> None:
    """The sandboxed entry point: one JSON request on stdin, one JSON ToolResult on stdout."""
    try:
        request = json.loads(sys.stdin.buffer.read())
        result = execute(request if isinstance(request, dict) else {})
    except Exception as exc:  # a bug here must still answer in JSON, not with a traceback
        result = ToolResult(f"the editor failed: {type(exc).__name__}: {exc}", is_error=True)
    # File names that are not UTF-8 arrive as lone surrogates, which no API request can carry:
    # show them as backslash escapes instead.
    text = result.text.encode("utf-8", "backslashreplace").decode("utf-8")
    answer = {"text": text, "is_error": result.is_error}
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    main()
