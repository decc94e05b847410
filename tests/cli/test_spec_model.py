"""`forge spec "TASK"` without --tests, end to end: the real `forge` executable in a subprocess,
the real SDK against a local Messages server, the real sandboxed tools, a real repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest

import leanforge
from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use

EDITOR = "str_replace_based_edit_tool"
KEY = "sk-ant-api03-" + "f4ke" * 15
TASK = "add a mul function to calc"
SLUG = "add-mul-function-calc"
SPEC = "# Multiply\n\n`calc.mul(a, b)` returns the product of two numbers.\n"
MUL_TEST = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
MUL_HOLDOUT = "from calc import mul\n\n\ndef test_mul_by_zero():\n    assert mul(5, 0) == 0\n"
PASSING_TEST = "from calc import add\n\n\ndef test_sub():\n    assert add(3, 1) == 2\n"
BROKEN_TEST = "def test_broken(:\n    pass\n"
#: The package under test comes first on the path, however (or whether) it is installed.
SOURCE_ROOT = str(Path(leanforge.__file__).resolve().parents[1])


def writes(files: dict[str, str]) -> Reply:
    """One turn creating ``files`` with the editor tool."""
    return reply(
        [
            tool_use(EDITOR, {"command": "create", "path": path, "file_text": text})
            for path, text in files.items()
        ]
    )


def submit(
    spec: str = SPEC,
    acceptance: tuple[str, ...] = ("tests/test_mul.py",),
    holdout: tuple[str, ...] = ("holdout/test_mul_edges.py",),
) -> Reply:
    return reply(
        [
            tool_use(
                "submit_spec",
                {
                    "spec": spec,
                    "acceptance_tests": list(acceptance),
                    "holdout_tests": list(holdout),
                },
            )
        ]
    )


def good_draft(test: str = MUL_TEST, spec: str = SPEC) -> list[Reply]:
    return [
        writes({"tests/test_mul.py": test, "holdout/test_mul_edges.py": MUL_HOLDOUT}),
        submit(spec),
    ]


def bad_draft(test: str) -> list[Reply]:
    return [writes({"tests/test_mul.py": test}), submit(holdout=())]


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


class Run:
    """The real `forge` in a subprocess, pointed at the fake Messages server."""

    def __init__(self, project: Any, server: MessagesServer) -> None:
        self.project, self.server = project, server
        self.root: Path = project.root
        # Not committed: the config is read from the checkout, and the base stays as it is.
        config = self.root / ".forge" / "config.toml"
        config.write_text(
            config.read_text() + "\n[agent]\nmax_retries = 0\nrequest_timeout = 30.0\n"
        )

    def __call__(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": self.server.url,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")])
            ),
            **(env or {}),
        }
        full_env.pop("FORGE_DEBUG", None)
        return subprocess.run(
            [sys.executable, "-m", "leanforge", "spec", *args],
            cwd=self.root,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def session_prompts(self) -> list[str]:
        """The user message of each spec-writer session, in order."""
        firsts = [r for r in self.server.message_requests() if len(r.body["messages"]) == 1]
        return [_text(r.body["messages"][0]["content"]) for r in firsts]

    def assert_nothing_left(self) -> None:
        repo = pygit2.Repository(str(self.root))
        assert [b for b in repo.branches.local if b.startswith("forge/")] == []
        assert repo.list_worktrees() == []
        git_dir = self.root / ".git"
        leftovers = list((git_dir / "forge-worktrees").glob("*")) + list(
            (git_dir / "forge-worktrees").glob(".draft-*")
        )
        assert leftovers == []
        assert not (git_dir / "forge" / "tasks").exists() or not any(
            (git_dir / "forge" / "tasks").iterdir()
        )


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content)


@pytest.fixture
def run(project: Any, server: MessagesServer) -> Run:
    return Run(project, server)


def test_yes_creates_the_task_from_the_agents_spec_and_tests(run: Run) -> None:
    run.server.add(*good_draft())
    result = run("--yes", TASK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SLUG
    assert "spec-writer drafting (draft 1 of 3)" in result.stderr

    record = run.project.forge_json("show", SLUG)
    assert record["status"] == "specced"
    assert record["locked_files"] == ["tests/test_mul.py"]
    assert record["holdout_count"] == 1 and record["lock_state"] == "verified"
    assert record["history"][0]["note"] == "spec and tests written by the spec-writer"
    usage = record["usage"]["spec_writer"]
    assert usage["calls"] == 2 and usage["cost_usd"] > 0
    transcripts = [Path(p) for p in record["transcripts"]]
    assert len(transcripts) == 1 and transcripts[0].is_file()
    assert transcripts[0].parent == run.root / ".git/forge/tasks" / SLUG / "transcripts"
    assert list((run.root / ".git/forge/sessions").glob("*")) == []

    repo = pygit2.Repository(str(run.root))
    head = repo.branches.local[f"forge/{SLUG}"].peel(pygit2.Commit)
    assert head.parents[0].id == repo.branches.local["main"].peel(pygit2.Commit).id
    assert head.tree[f".forge/specs/{SLUG}.md"].data.decode() == SPEC
    assert head.tree["tests/test_mul.py"].data.decode() == MUL_TEST
    assert "holdout" not in head.tree
    worktree = Path(record["worktree"])
    assert (worktree / "tests/test_mul.py").read_text() == MUL_TEST
    assert not (worktree / "holdout").exists()
    # The held-out test is in no commit anywhere, only in the lock.
    for commit in repo.walk(head.id):
        assert "holdout" not in commit.tree
    assert (run.root / ".git/forge/tasks" / SLUG / "lock").is_dir()
    assert list((run.root / ".git/forge-worktrees").glob(".draft-*")) == []
    # The user's checkout is untouched: the agent worked in its own copy.
    assert not (run.root / "tests/test_mul.py").exists()

    prompts = run.session_prompts()
    assert len(prompts) == 1 and TASK in prompts[0]
    first = run.server.message_requests()[0].body
    assert [t["name"] for t in first["tools"]][-1] == "submit_spec"
    assert "spec-writer" in _text(first["system"])


def test_json_prints_only_the_record(run: Run) -> None:
    run.server.add(*good_draft())
    result = run(TASK, "--yes", "--json", "--slug", "mul")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["slug"] == "mul" and record["usage"]["spec_writer"]["calls"] == 2


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (PASSING_TEST, "already passes on the base commit"),
        (BROKEN_TEST, "syntax error"),
    ],
    ids=["already-green", "syntax-error"],
)
def test_a_refused_draft_goes_back_with_the_problem(run: Run, first: str, problem: str) -> None:
    run.server.add(*bad_draft(first), *good_draft())
    result = run("-y", TASK)
    assert result.returncode == 0, result.stderr
    assert "draft 1 refused" in result.stderr and problem in result.stderr
    prompts = run.session_prompts()
    assert len(prompts) == 2
    assert problem not in prompts[0]
    assert "Draft 1 was refused" in prompts[1] and problem in prompts[1]
    assert "Your previous draft's spec" in prompts[1]
    record = run.project.forge_json("show", SLUG)
    assert record["usage"]["spec_writer"]["calls"] == 4
    assert len(record["transcripts"]) == 2


def test_all_drafts_refused_fails_in_one_line_and_leaves_nothing(run: Run) -> None:
    config = run.root / ".forge/config.toml"
    config.write_text(
        config.read_text().replace("[agent]", "[pipeline]\nspec_drafts = 2\n\n[agent]")
    )
    run.server.add(*bad_draft(PASSING_TEST), *bad_draft(BROKEN_TEST))
    result = run("--yes", TASK)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1
    assert "2 draft(s) were all refused" in errors[0] and "syntax error" in errors[0]
    assert result.stdout == ""
    assert run.server.pending == 0
    run.assert_nothing_left()


@pytest.mark.parametrize("stdin", ["c\n", ""], ids=["cancel", "end-of-input"])
def test_cancel_at_the_prompt_leaves_nothing(run: Run, stdin: str) -> None:
    run.server.add(*good_draft())
    result = run(TASK, stdin=stdin)
    assert result.returncode == 1
    assert "cancelled: no task was created" in result.stderr
    # The draft was shown on stderr: spec, acceptance and held-out tests, labelled.
    assert "Multiply" in result.stderr and "def test_mul():" in result.stderr
    assert (
        "hidden from the engineer" in result.stderr and "holdout/test_mul_edges.py" in result.stderr
    )
    assert result.stdout == ""
    run.assert_nothing_left()


def test_feedback_starts_a_new_draft_then_approve(run: Run) -> None:
    better = SPEC + "\nNegative numbers work too.\n"
    run.server.add(*good_draft(), *good_draft(spec=better))
    result = run(TASK, stdin="f\ncover negative numbers\na\n")
    assert result.returncode == 0, result.stderr
    prompts = run.session_prompts()
    assert len(prompts) == 2
    assert "cover negative numbers" in prompts[1] and "asked for changes" in prompts[1]
    assert "`calc.mul(a, b)` returns the product" in prompts[1]  # the previous spec
    repo = pygit2.Repository(str(run.root))
    head = repo.branches.local[f"forge/{SLUG}"].peel(pygit2.Commit)
    assert head.tree[f".forge/specs/{SLUG}.md"].data.decode() == better


EDIT_SCRIPT = """
import sys
from pathlib import Path

for name in sys.argv[1:]:
    path = Path(name)
    if path.suffix == ".md":
        path.write_text("# Multiply, edited by a human\\n")
    elif path.name == "test_mul.py" and "{mode}" == "break":
        path.write_text("def test_broken(:\\n")
"""


@pytest.mark.parametrize("mode", ["spec", "break"])
def test_edit_in_the_editor(run: Run, tmp_path: Path, mode: str) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDIT_SCRIPT.format(mode=mode))
    run.server.add(*good_draft())
    stdin = "e\na\n" if mode == "spec" else "e\nc\n"
    result = run(TASK, stdin=stdin, env={"EDITOR": f"{sys.executable} {script}"})
    if mode == "break":
        assert result.returncode == 1
        assert "the edited draft fails its checks" in result.stderr
        assert "syntax error" in result.stderr
        assert "[e]dit, [f]eedback, [c]ancel" in result.stderr  # approve is not offered
        run.assert_nothing_left()
        return
    assert result.returncode == 0, result.stderr
    repo = pygit2.Repository(str(run.root))
    head = repo.branches.local[f"forge/{SLUG}"].peel(pygit2.Commit)
    assert head.tree[f".forge/specs/{SLUG}.md"].data.decode() == "# Multiply, edited by a human\n"
    assert head.tree["tests/test_mul.py"].data.decode() == MUL_TEST


def test_holdout_without_tests_is_a_usage_error(run: Run) -> None:
    result = run.project.forge("spec", TASK, "--holdout", "holdout/test_holdout.py")
    assert result.exit_code == 2
    assert "--holdout needs --tests" in result.output
    assert run.server.message_requests() == []


def test_model_with_tests_is_a_usage_error(run: Run) -> None:
    result = run.project.forge("spec", TASK, "--tests", "tests/test_calc.py", "--model", "m")
    assert result.exit_code == 2
    assert "no model runs" in result.output


def test_help_explains_both_paths(run: Run) -> None:
    result = run.project.forge("spec", "-h")
    assert result.exit_code == 0
    for words in ("--tests", "spec-writer", "--yes", "--model", "approve", "$EDITOR"):
        assert words in result.output
