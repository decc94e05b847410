"""The editor's sandboxed half, run in-process: path confinement and each file operation."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent.tools import editor_ops
from leanforge.agent.tools.editor_ops import EditorError, ToolResult, confine, execute


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A worktree-like directory beside an "outside" directory holding a secret."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("held-out\n")
    root = tmp_path / "wt"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (root / ".git").write_text("gitdir: /elsewhere\n")
    return root


def run(root: Path, limit: int = 30_000, read_only: bool = False, **op: Any) -> ToolResult:
    return execute({"root": str(root), "op": op, "read_only": read_only, "limit": limit})


class TestConfine:
    def test_relative_and_absolute_paths_inside(self, root: Path) -> None:
        app = str(root / "src" / "app.py")
        assert confine(str(root), "src/app.py") == app
        assert confine(str(root), app) == app
        assert confine(str(root), "src/../src/./app.py") == app
        assert confine(str(root), "src/new/file.py") == str(root / "src" / "new" / "file.py")
        assert confine(str(root), ".") == str(root)

    def test_a_link_to_the_root_counts_as_the_root(self, root: Path, tmp_path: Path) -> None:
        alias = tmp_path / "alias"
        alias.symlink_to(root)
        assert confine(str(alias), "src/app.py") == str(root / "src" / "app.py")
        assert confine(str(root), str(alias / "src" / "app.py")) == str(root / "src" / "app.py")

    def test_links_inside_the_worktree_are_followed(self, root: Path) -> None:
        (root / "link.py").symlink_to("src/app.py")
        assert confine(str(root), "link.py") == str(root / "src" / "app.py")

    @pytest.mark.parametrize("path", ["../outside/secret", "src/../../outside", "/etc/passwd", "/"])
    def test_paths_outside_are_refused(self, root: Path, path: str) -> None:
        with pytest.raises(EditorError, match="outside the worktree"):
            confine(str(root), path)

    def test_links_leading_outside_are_refused(self, root: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        (root / "secret").symlink_to(outside / "secret")  # the final component
        (root / "out").symlink_to(outside)  # a directory on the way
        (root / "dangling").symlink_to(outside / "new.py")  # creating through it would escape
        (root / "src" / "up").symlink_to("../..")  # relative, inside until resolved
        for path in ("secret", "out/secret", "out/new.py", "dangling", "src/up/outside/secret"):
            with pytest.raises(EditorError, match="through a symlink outside the worktree"):
                confine(str(root), path)

    @pytest.mark.parametrize("path", [".git", ".git/config", "src/.git/HEAD", "src/../.git"])
    def test_git_files_are_refused(self, root: Path, path: str) -> None:
        with pytest.raises(EditorError, match=r"inside \.git"):
            confine(str(root), path)

    def test_a_link_to_git_is_refused(self, root: Path) -> None:
        (root / "g").symlink_to(".git")
        with pytest.raises(EditorError, match=r"inside \.git"):
            confine(str(root), "g")
        assert confine(str(root), ".gitignore") == str(root / ".gitignore")

    @pytest.mark.parametrize("path", ["", "  ", "a\0b"])
    def test_unusable_paths_are_refused(self, root: Path, path: str) -> None:
        with pytest.raises(EditorError, match="unusable"):
            confine(str(root), path)


def test_lines_are_counted_as_cat_does() -> None:
    assert editor_ops.split_lines("") == []
    assert editor_ops.split_lines("a\nb") == ["a\n", "b"]
    assert editor_ops.split_lines("a\r\nb\n\n") == ["a\r\n", "b\n", "\n"]
    assert editor_ops.numbered(["a\n", "b"], 9, 100) == ("     9\ta\n    10\tb", 2)
    assert editor_ops.numbered(["a\n", "b"], 1, 9) == ("     1\ta", 1)
    assert editor_ops.numbered(["abcdef"], 1, 9) == ("     1\tab", 0)


class TestView:
    def test_a_file_with_line_numbers(self, root: Path) -> None:
        result = run(root, command="view", path="src/app.py")
        assert result == ToolResult(
            "Here's the result of running `cat -n` on src/app.py:\n"
            "     1\tdef add(a, b):\n     2\t    return a - b"
        )

    def test_a_range(self, root: Path) -> None:
        (root / "ten.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
        result = run(root, command="view", path="ten.txt", view_range=[3, 4])
        assert result.text.endswith("(lines 3-4 of 10):\n     3\tline 3\n     4\tline 4")
        to_end = run(root, command="view", path="ten.txt", view_range=[9, -1])
        assert to_end.text.endswith("     9\tline 9\n    10\tline 10")

    @pytest.mark.parametrize(
        ("view_range", "message"),
        [([11, -1], "start 11 is past the end"), ([2, 11], "end 11 is past the end")],
    )
    def test_a_range_past_the_end(self, root: Path, view_range: list[int], message: str) -> None:
        (root / "ten.txt").write_text("x\n" * 10)
        result = run(root, command="view", path="ten.txt", view_range=view_range)
        assert result.is_error
        assert message in result.text and "has 10 lines" in result.text

    def test_long_output_is_truncated_with_a_way_to_the_rest(self, root: Path) -> None:
        (root / "big.txt").write_text("".join(f"line {n}\n" for n in range(1, 5001)))
        result = run(root, limit=2000, command="view", path="big.txt")
        assert not result.is_error
        assert len(result.text) <= 2000
        head, note = result.text.rsplit("\n", 1)
        last = int(head.rsplit("\n", 1)[1].split("\t")[0])
        assert note.startswith("[output truncated at 2000 characters: lines 1-")
        assert f"of 5000 shown; view the rest with view_range, e.g. [{last + 1}, " in note

    def test_a_line_longer_than_the_limit_is_cut(self, root: Path) -> None:
        (root / "min.js").write_text("x" * 10_000 + "\n")
        result = run(root, limit=1000, command="view", path="min.js")
        assert "line 1 alone is longer" in result.text and "sed -n 1p min.js" in result.text
        assert len(result.text) <= 1000

    def test_a_directory_two_levels_deep(self, root: Path) -> None:
        (root / "src" / "pkg" / "deep").mkdir(parents=True)
        (root / "src" / "pkg" / "deep" / "hidden_by_depth.py").write_text("")
        (root / "src" / "__pycache__").mkdir()
        (root / ".venv").mkdir()
        (root / "src" / ".env").write_text("")
        (root / "docs").symlink_to(root.parent / "outside")
        result = run(root, command="view", path=".")
        lines = result.text.split("\n")
        assert lines[0].startswith("Files and directories in ., up to 2 levels deep")
        assert lines[1:] == ["docs@", "src/", "src/app.py", "src/pkg/"]
        sub = run(root, command="view", path="src")
        assert sub.text.split("\n")[1:] == ["src/app.py", "src/pkg/", "src/pkg/deep/"]

    def test_a_long_listing_is_truncated(self, root: Path) -> None:
        for n in range(500):
            (root / "src" / f"module_{n:03}.py").write_text("")
        result = run(root, limit=2000, command="view", path="src")
        assert len(result.text) <= 2000
        assert result.text.endswith("[listing truncated at 2000 characters; view a subdirectory]")

    def test_view_range_on_a_directory(self, root: Path) -> None:
        result = run(root, command="view", path="src", view_range=[1, 2])
        assert result == ToolResult("src is a directory; `view_range` only applies to files", True)

    def test_files_the_editor_cannot_show(self, root: Path) -> None:
        (root / "empty.txt").write_text("")
        (root / "blob.bin").write_bytes(b"PK\x03\x04\x00\x00")
        (root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
        with open(root / "huge.log", "wb") as handle:
            handle.truncate(editor_ops.MAX_FILE_BYTES + 1)
        assert run(root, command="view", path="empty.txt") == ToolResult(
            "empty.txt is empty (0 lines)."
        )
        blob = run(root, command="view", path="blob.bin")
        assert blob.is_error and "binary or not UTF-8" in blob.text
        latin = run(root, command="view", path="latin1.txt")
        assert latin.is_error and "invalid UTF-8 at byte 3" in latin.text
        huge = run(root, command="view", path="huge.log")
        assert huge.is_error and "over the editor's" in huge.text
        missing = run(root, command="view", path="nope.py")
        assert missing == ToolResult("nope.py does not exist; to make a new file, use create", True)


class TestCreate:
    def test_creates_parents(self, root: Path) -> None:
        result = run(root, command="create", path="pkg/sub/mod.py", file_text="x = 1\n")
        assert result == ToolResult("Created the file pkg/sub/mod.py (1 line).")
        assert (root / "pkg" / "sub" / "mod.py").read_text() == "x = 1\n"

    def test_overwrites_and_says_so(self, root: Path) -> None:
        (root / "src" / "app.py").chmod(0o755)
        result = run(root, command="create", path="src/app.py", file_text="a\r\nb")
        assert result == ToolResult("Overwrote the existing file src/app.py (2 lines).")
        assert (root / "src" / "app.py").read_bytes() == b"a\r\nb"
        assert (root / "src" / "app.py").stat().st_mode & 0o777 == 0o755

    def test_not_over_a_directory(self, root: Path) -> None:
        result = run(root, command="create", path="src", file_text="")
        assert result.is_error and "src exists and is not a regular file" in result.text


class TestStrReplace:
    def test_one_match_is_replaced_and_shown(self, root: Path) -> None:
        result = run(
            root, command="str_replace", path="src/app.py", old_str="a - b", new_str="a + b"
        )
        assert (root / "src" / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
        assert result == ToolResult(
            "The file src/app.py has been edited. Here's the result of running `cat -n` on lines "
            "1-2 of src/app.py:\n     1\tdef add(a, b):\n     2\t    return a + b\n"
            "Review the changes; edit the file again if they are not right."
        )

    def test_the_snippet_is_the_edit_with_four_lines_around(self, root: Path) -> None:
        (root / "n.txt").write_text("".join(f"{n}\n" for n in range(1, 21)))
        result = run(root, command="str_replace", path="n.txt", old_str="10\n", new_str="X\nY\n")
        rows = [row.split("\t") for row in result.text.split("\n")[1:-1]]
        assert [int(number) for number, _ in rows] == list(range(6, 16))
        assert [text for _, text in rows][3:7] == ["9", "X", "Y", "11"]

    def test_new_str_defaults_to_deleting(self, root: Path) -> None:
        result = run(
            root, command="str_replace", path="src/app.py", old_str="    return a - b\n", new_str=""
        )
        assert not result.is_error
        assert (root / "src" / "app.py").read_text() == "def add(a, b):\n"

    def test_no_match(self, root: Path) -> None:
        before = (root / "src" / "app.py").read_text()
        result = run(root, command="str_replace", path="src/app.py", old_str="a * b", new_str="")
        assert result.is_error
        assert result.text.startswith(
            "No replacement was performed: old_str did not appear verbatim in src/app.py."
        )
        assert "whitespace and indentation" in result.text and "view the file" in result.text
        assert (root / "src" / "app.py").read_text() == before

    def test_no_match_hints_at_indentation(self, root: Path) -> None:
        old = "def add(a, b):\n  return a - b"
        result = run(root, command="str_replace", path="src/app.py", old_str=old, new_str="")
        assert result.text.endswith(
            "A match ignoring indentation and trailing spaces starts at line 1."
        )

    def test_no_match_hints_at_crlf(self, root: Path) -> None:
        (root / "win.txt").write_bytes(b"one\r\ntwo\r\n")
        result = run(root, command="str_replace", path="win.txt", old_str="one\ntwo", new_str="")
        assert result.text.endswith("Note: the file has CRLF (\\r\\n) line endings.")

    def test_several_matches_are_listed(self, root: Path) -> None:
        (root / "dup.py").write_text("x = 1\ny = 2\nx = 1\n\nx = 1\n")
        result = run(root, command="str_replace", path="dup.py", old_str="x = 1", new_str="x = 3")
        assert result == ToolResult(
            "No replacement was performed: old_str occurs 3 times in dup.py, at lines 1, 3, 5. "
            "Include more surrounding lines in old_str so that it matches exactly once.",
            True,
        )
        assert (root / "dup.py").read_text() == "x = 1\ny = 2\nx = 1\n\nx = 1\n"

    def test_overlapping_matches_are_ambiguous_too(self, root: Path) -> None:
        (root / "aaa.txt").write_text("aaa\n")
        result = run(root, command="str_replace", path="aaa.txt", old_str="aa", new_str="b")
        assert result.is_error and "occurs 2 times" in result.text


class TestInsert:
    @pytest.mark.parametrize(
        ("after", "expected"),
        [(0, "new\na\nb\n"), (1, "a\nnew\nb\n"), (2, "a\nb\nnew\n")],
    )
    def test_after_a_line(self, root: Path, after: int, expected: str) -> None:
        (root / "f.txt").write_text("a\nb\n")
        result = run(root, command="insert", path="f.txt", insert_line=after, insert_text="new")
        assert result.text.startswith(
            f"The file f.txt has been edited: inserted 1 line after line {after}. "
        )
        assert (root / "f.txt").read_text() == expected

    def test_at_the_end_of_a_file_without_a_final_newline(self, root: Path) -> None:
        (root / "f.txt").write_text("a\nb")
        run(root, command="insert", path="f.txt", insert_line=2, insert_text="c\nd\n")
        assert (root / "f.txt").read_text() == "a\nb\nc\nd\n"

    def test_keeps_crlf_line_endings(self, root: Path) -> None:
        (root / "f.txt").write_bytes(b"a\r\nb\r\n")
        run(root, command="insert", path="f.txt", insert_line=1, insert_text="new")
        assert (root / "f.txt").read_bytes() == b"a\r\nnew\r\nb\r\n"

    def test_out_of_range(self, root: Path) -> None:
        result = run(root, command="insert", path="src/app.py", insert_line=3, insert_text="x")
        assert result == ToolResult(
            "`insert_line` 3 is out of range: src/app.py has 2 lines, so use 0 (before the first "
            "line) to 2 (after the last)",
            True,
        )


class TestDefenceInDepth:
    """The sandboxed half does not trust that the host checked."""

    def test_escapes_are_refused(self, root: Path) -> None:
        (root / "link").symlink_to(root.parent / "outside" / "secret")
        for path, reason in [
            ("../outside/secret", "outside"),
            ("link", "outside"),
            (".git", ".git"),
        ]:
            result = run(root, command="view", path=path)
            assert result.is_error
            assert reason in result.text

    def test_writes_need_read_only_false_said_explicitly(self, root: Path) -> None:
        op = {"command": "create", "path": "x.py", "file_text": ""}
        for request in (
            {"root": str(root), "op": op, "limit": 100},
            {"root": str(root), "op": op, "limit": 100, "read_only": True},
        ):
            assert execute(request) == ToolResult(editor_ops.READ_ONLY, True)
        assert not (root / "x.py").exists()


def test_only_the_standard_library_is_imported() -> None:
    tree = ast.parse(Path(editor_ops.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= {*sys.stdlib_module_names, "__future__"}


def test_the_source_runs_as_a_script_without_leanforge(root: Path, tmp_path: Path) -> None:
    source = Path(editor_ops.__file__).read_text()

    def script(stdin: bytes) -> dict[str, Any]:
        # -S: no site-packages either, so only the standard library can be imported.
        argv = [sys.executable, "-I", "-S", "-B", "-c", source]
        done = subprocess.run(argv, input=stdin, cwd=tmp_path, capture_output=True, check=True)
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    op = {"command": "view", "path": "src/app.py"}
    answer = script(json.dumps({"root": str(root), "op": op, "limit": 1000}).encode())
    assert answer["is_error"] is False and "return a - b" in answer["text"]
    broken = script(b"not json")
    assert broken["is_error"] is True and broken["text"].startswith(
        "the editor failed: JSONDecodeError"
    )
    # A file name that is not UTF-8 comes back escaped, not as a crash.
    os.mkdir(os.fsencode(root / "src") + b"/caf\xe9")
    listing = script(
        json.dumps(
            {"root": str(root), "op": {"command": "view", "path": "src"}, "limit": 1000}
        ).encode()
    )
    assert "src/caf\\udce9/" in listing["text"]
