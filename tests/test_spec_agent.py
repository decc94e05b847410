"""The spec-writer path in-process: its pure pieces, and the drafting loop with the real SDK
against a local Messages server, a real repository and a stand-in for the human reviewer."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pygit2
import pytest

from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use
from leanforge.context import Forge, open_forge
from leanforge.errors import BadTestPath, BudgetExceeded, DuplicateSlug, ForgeError
from leanforge.prompts import render_prompt
from leanforge.spec_agent import (
    APPROVE,
    CANCEL,
    EDIT,
    FEEDBACK,
    AgentSpecRequest,
    AutoApprove,
    Draft,
    write_spec,
)
from leanforge.spec_files import clean_test_path, parse_submission, read_draft_files

EDITOR = "str_replace_based_edit_tool"
KEY = "sk-ant-api03-" + "k3y" * 20
SPEC = "# Multiply\n\n`calc.mul(a, b)` returns a * b.\n"
MUL_TEST = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
ADD_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
BOTH_TEST = (
    "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert calc.mul(2, 3) == 6\n"
)
HOLDOUT = "from calc import mul\n\n\ndef test_mul_zero():\n    assert mul(0, 9) == 0\n"


# --- pure pieces -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/etc/test_x.py", "absolute"),
        ("../test_x.py", "climbs out"),
        ("tests/../../test_x.py", "climbs out"),
        (".git/hooks/test_x.py", "inside .git"),
        ("tests/.GIT/test_x.py", "inside .git"),
        ("tests/test_x.txt", "not a Python file"),
        ("", "unusable"),
        ("tests\\test_x.py", "unusable"),
    ],
)
def test_unclean_test_paths_are_refused(path: str, message: str) -> None:
    with pytest.raises(BadTestPath, match=message):
        clean_test_path(path)


def test_clean_test_paths_are_normalised() -> None:
    assert clean_test_path("./tests//test_x.py") == "tests/test_x.py"


def test_parse_submission_drops_duplicates() -> None:
    parsed = parse_submission(
        {"spec": "# S", "acceptance_tests": ["a.py", "a.py"], "holdout_tests": []}
    )
    assert (parsed.spec, parsed.acceptance, parsed.holdout) == ("# S", ("a.py",), ())


def test_read_draft_files_refuses_missing_files_and_escaping_links(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_ok.py").write_text(MUL_TEST)
    secret = tmp_path / "secret.py"
    secret.write_text("x = 1\n")
    (root / "tests" / "test_link.py").symlink_to(secret)
    (root / "tests" / "test_inner.py").symlink_to(root / "tests" / "test_ok.py")
    assert read_draft_files(root, ["tests/test_ok.py", "tests/test_inner.py"]) == {
        "tests/test_ok.py": MUL_TEST.encode(),
        "tests/test_inner.py": MUL_TEST.encode(),
    }
    with pytest.raises(BadTestPath, match="leading out"):
        read_draft_files(root, ["tests/test_link.py"])
    with pytest.raises(BadTestPath, match="does not exist"):
        read_draft_files(root, ["tests/test_gone.py"])
    with pytest.raises(BadTestPath, match="climbs out"):
        read_draft_files(root, ["../secret.py"])


def test_prompts_render() -> None:
    system = render_prompt("spec_writer.md.j2")
    assert "submit_spec" in system and "holdout/" in system and "{{" not in system
    first = render_prompt(
        "spec_writer.task.md.j2",
        task="Add mul",
        project="acme",
        playbook="",
        test_command="python -m pytest -q",
        feedback=[],
        previous="",
    )
    assert "Add mul" in first and "acme" in first and "python -m pytest -q" in first
    assert "playbook" not in first and "What to fix" not in first and not first.endswith("\n\n")
    later = render_prompt(
        "spec_writer.task.md.j2",
        task="Add mul",
        project="acme",
        playbook="- run tox\n",
        test_command="python -m pytest -q",
        feedback=["Draft 1 was refused: it passes already", "The human asked: more edges"],
        previous="# Mul spec\n",
    )
    assert "- run tox" in later and "# Mul spec" in later
    assert "- Draft 1 was refused: it passes already\n- The human asked: more edges\n" in later


# --- the drafting loop -------------------------------------------------------------------


class Human:
    """Answers from a script, and remembers what it was shown and offered."""

    def __init__(self, *answers: str, feedback: Sequence[str] = (), editor: Any = None) -> None:
        self.answers = list(answers)
        self.texts = list(feedback)
        self.editor = editor
        self.shown: list[Draft] = []
        self.offered: list[tuple[str, ...]] = []
        self.problems: list[str] = []

    def show(self, draft: Draft) -> None:
        self.shown.append(draft)

    def choose(self, allowed: Sequence[str]) -> str:
        self.offered.append(tuple(allowed))
        return self.answers.pop(0) if self.answers else CANCEL

    def feedback(self) -> str:
        return self.texts.pop(0)

    def edit(self, files: Sequence[Path]) -> None:
        self.editor(files)

    def refused(self, problem: str) -> None:
        self.problems.append(problem)


def writes(files: dict[str, str]) -> Reply:
    return reply(
        [
            tool_use(EDITOR, {"command": "create", "path": p, "file_text": t})
            for p, t in files.items()
        ]
    )


def submit(acceptance: Sequence[str], holdout: Sequence[str] = (), spec: str = SPEC) -> Reply:
    body = {"spec": spec, "acceptance_tests": list(acceptance), "holdout_tests": list(holdout)}
    return reply([tool_use("submit_spec", body)])


def good_draft() -> list[Reply]:
    files = {"tests/test_mul.py": MUL_TEST, "holdout/test_mul_zero.py": HOLDOUT}
    return [writes(files), submit(["tests/test_mul.py"], ["holdout/test_mul_zero.py"])]


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


class Setup:
    def __init__(self, project: Any, server: MessagesServer) -> None:
        self.project, self.server = project, server
        self.progress: list[str] = []
        self.warnings: list[str] = []

    def forge(self, **overrides: Any) -> Forge:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": self.server.url}
        agent = {"max_retries": 0, "request_timeout": 30.0, **overrides.pop("agent", {})}
        return open_forge(
            self.project.root, {"agent": agent, **overrides}, env=env, warn=self.warnings.append
        )

    def write(self, reviewer: Any, task: str = "add mul", **overrides: Any) -> Any:
        return write_spec(
            self.forge(**overrides), AgentSpecRequest(task=task), reviewer, self.progress.append
        )

    def prompts(self) -> list[str]:
        firsts = [r for r in self.server.message_requests() if len(r.body["messages"]) == 1]
        return [
            "".join(b.get("text", "") for b in r.body["messages"][0]["content"]) for r in firsts
        ]

    def nothing_left(self) -> None:
        git_dir = self.project.root / ".git"
        repo = pygit2.Repository(str(self.project.root))
        assert [b for b in repo.branches.local if b.startswith("forge/")] == []
        assert not (git_dir / "forge-worktrees").exists()
        assert not (git_dir / "forge" / "tasks").exists()


@pytest.fixture
def setup(project: Any, server: MessagesServer) -> Setup:
    return Setup(project, server)


def test_checks_run_on_the_base_not_on_the_draft_area(setup: Setup) -> None:
    """The agent fixed add() and wrote mul() in its copy: neither reaches the checks or the task."""
    setup.server.add(
        writes(
            {
                "calc.py": "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
                "tests/test_more.py": BOTH_TEST,
            }
        ),
        submit(["tests/test_more.py"]),
    )
    record = setup.write(AutoApprove())
    assert record.locked_files == ("tests/test_more.py",) and record.holdout_count == 0
    assert any("red before green: 2 failing" in line for line in setup.progress)
    worktree = Path(record.worktree)
    assert (worktree / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert record.usage["spec_writer"].calls == 2


def test_refusals_go_back_as_feedback(setup: Setup) -> None:
    setup.project.write("tests/test_old.py", ADD_TEST)
    setup.project.commit("an old test")
    setup.server.add(
        writes({"tests/test_mul.py": MUL_TEST}),
        submit(["tests/test_mul.py"], ["tests/test_old.py"]),
        submit(["../outside.py"]),
        *good_draft(),
    )
    record = setup.write(AutoApprove())
    assert record.holdout_count == 1
    prompts = setup.prompts()
    assert len(prompts) == 3
    assert "committed on main" in prompts[1] and "climbs out" not in prompts[1]
    assert "committed on main" in prompts[2] and "climbs out" in prompts[2]


def test_an_edit_that_breaks_the_draft_takes_approve_away(setup: Setup) -> None:
    def breaks(files: Sequence[Path]) -> None:
        (test,) = [f for f in files if f.name == "test_mul.py"]
        test.write_text("from calc import add\n\n\ndef test_green():\n    assert add(1, 0) == 1\n")
        files[0].write_text("# Multiply, as a human put it\n")

    human = Human(EDIT, FEEDBACK, APPROVE, feedback=["test negatives"], editor=breaks)
    setup.server.add(*good_draft(), *good_draft())
    record = setup.write(human)
    assert record.locked_files == ("tests/test_mul.py",)
    everything = (APPROVE, EDIT, FEEDBACK, CANCEL)
    assert human.offered == [everything, (EDIT, FEEDBACK, CANCEL), everything]
    assert len(human.problems) == 1 and "already passes" in human.problems[0]
    last = setup.prompts()[-1]
    assert "After the human's edits" in last and "test negatives" in last
    assert "# Multiply, as a human put it" in last, "the next draft starts from the edited spec"


def test_empty_feedback_returns_to_the_choice(setup: Setup) -> None:
    human = Human(FEEDBACK, CANCEL, feedback=[""])
    setup.server.add(*good_draft())
    with pytest.raises(ForgeError, match="cancelled"):
        setup.write(human)
    assert len(setup.prompts()) == 1 and len(human.shown) == 2
    setup.nothing_left()
    sessions = setup.project.root / ".git/forge/sessions"
    assert len(list(sessions.glob("*.jsonl"))) == 1, "the transcript of money spent stays"


def test_a_taken_slug_fails_before_any_session(setup: Setup) -> None:
    setup.project.spec("add-mul", holdout=False)
    with pytest.raises(DuplicateSlug):
        write_spec(setup.forge(), AgentSpecRequest(task="x", slug="add-mul"), AutoApprove(), print)
    assert setup.server.message_requests() == []


def test_the_task_budget_stops_the_spec_writer_and_nothing_is_left(setup: Setup) -> None:
    setup.server.add(*good_draft())
    with pytest.raises(BudgetExceeded):
        setup.write(AutoApprove(), budgets={"task_usd": 0.000001})
    assert setup.server.message_requests() == []
    setup.nothing_left()


def test_a_failed_session_leaves_nothing(setup: Setup) -> None:
    with pytest.raises(ForgeError, match="script exhausted"):
        setup.write(AutoApprove())
    setup.nothing_left()


@pytest.mark.bwrap
def test_the_spec_writer_sees_its_copy_and_nothing_private(setup: Setup) -> None:
    """Under bubblewrap: the draft area works as a worktree; the checkout and the state are hidden."""
    root, state = setup.project.root, setup.project.root / ".git" / "forge"
    state.mkdir(parents=True, exist_ok=True)
    (state / "private.txt").write_text("locked\n")
    look = (
        f"cat calc.py; ls -a ..; ls -a {root}; ls -a {root / 'holdout'}; ls -a {state}; "
        "echo x > probe.txt && echo wrote"
    )
    setup.server.add(reply([tool_use("bash", {"command": look})]), *good_draft())
    setup.write(AutoApprove(), sandbox={"mode": "bwrap"})
    results = setup.server.message_requests()[1].body["messages"][-1]["content"]
    output = results[0]["content"]
    output = output if isinstance(output, str) else "".join(b["text"] for b in output)
    assert "return a - b" in output and "wrote" in output
    assert "add-mul.md" not in output, "the spec file beside the copy is hidden"
    assert "test_holdout.py" not in output and "private.txt" not in output
