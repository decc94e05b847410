"""The scripted and claude-code backends each drive a whole session through run_session."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent.scripted import ScriptError
from leanforge.agent.session import run_session
from leanforge.context import open_forge
from leanforge.errors import (
    BackendUnavailable,
    BudgetExceeded,
    MissingApiKey,
    NoFinalAnswer,
    TimeLimitReached,
    TurnLimitReached,
    UsageError,
)

SCRIPT = [
    {
        "text": "Fixing.",
        "tools": [
            {
                "name": "str_replace_based_edit_tool",
                "input": {
                    "command": "str_replace",
                    "path": "calc.py",
                    "old_str": "a - b",
                    "new_str": "a + b",
                },
            }
        ],
    },
    {
        "tools": [
            {
                "name": "bash",
                "input": {"command": "python -m pytest -q -p no:cacheprovider tests/test_calc.py"},
            }
        ]
    },
    {
        "tools": [{"name": "submit_work", "input": {"summary": "add adds"}}],
        "usage": {"input_tokens": 1000, "output_tokens": 100},
    },
]

FAKE_CLAUDE = """#!{python}
import json, os, sys, time
from pathlib import Path
plan = Path({plan!r})
steps = json.loads(plan.read_text())
step = steps.pop(0)
plan.write_text(json.dumps(steps))
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": sorted(os.environ)}}) + "\\n")
time.sleep(step.get("sleep", 0))
for path, text in step.get("edit", {{}}).items():
    Path(path).write_text(text)
print(json.dumps({{
    "type": "result", "subtype": step.get("subtype", "success"), "is_error": step.get("is_error", False),
    "num_turns": step.get("turns", 3), "result": step["result"], "session_id": "sess-1",
    "total_cost_usd": step.get("cost", 0.05),
    "usage": {{"input_tokens": 500, "output_tokens": 80, "cache_read_input_tokens": 1200, "cache_creation_input_tokens": 300}},
}}))
"""


def fenced(payload: dict[str, Any]) -> str:
    return "Done. Here is my submission:\n```json\n" + json.dumps(payload) + "\n```\n"


def forge_for(project: Any, **agent: Any) -> Any:
    return open_forge(
        project.root,
        {"agent": agent},
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": "/root",
            "ANTHROPIC_API_KEY": "sk-test",
            "CLAUDE_CODE_USE_BEDROCK": "0",
            "GITHUB_TOKEN": "ghs_not_for_claude",
            "AWS_SECRET_ACCESS_KEY": "not-for-claude",
        },
        warn=lambda m: None,
    )


def engineer(project: Any, worktree: Path, forge: Any) -> Any:
    return run_session(
        forge,
        role="engineer",
        system="sys",
        prompt="make add add",
        worktree=worktree,
        slug="fix-add",
    )


def test_scripted_backend_from_a_json_file(project: Any) -> None:
    worktree = project.spec()
    project.write("script.json", json.dumps(SCRIPT))
    outcome = engineer(
        project, worktree, forge_for(project, backend="scripted", script="script.json")
    )
    assert outcome.final == {"summary": "add adds"} and outcome.backend == "scripted"
    assert "a + b" in (worktree / "calc.py").read_text()
    transcript = Path(outcome.transcript).read_text()
    assert "2 passed" in transcript, "the sandboxed pytest run is in the transcript"
    usage = project.forge_json("show", "fix-add")["usage"]["engineer"]
    assert usage["calls"] == 3 and usage["input_tokens"] == 1000


def test_scripted_backend_needs_a_script(project: Any) -> None:
    worktree = project.spec()
    with pytest.raises(ScriptError, match=r"needs agent\.script"):
        engineer(project, worktree, forge_for(project, backend="scripted"))


def test_the_anthropic_backend_without_a_key_says_how_to_set_it(project: Any) -> None:
    worktree = project.spec()
    forge = open_forge(project.root, env={"PATH": "/usr/bin:/bin"}, warn=lambda m: None)
    with pytest.raises(MissingApiKey, match="ANTHROPIC_API_KEY"):
        engineer(project, worktree, forge)
    assert not (project.root / ".git/forge/tasks/fix-add/transcripts").exists(), (
        "nothing was started"
    )


class FakeClaude:
    def __init__(self, tmp_path: Path) -> None:
        self.plan = tmp_path / "plan.json"
        self.log = tmp_path / "claude-calls.jsonl"
        self.path = tmp_path / "bin" / "claude"
        self.path.parent.mkdir()
        self.path.write_text(
            FAKE_CLAUDE.format(python=sys.executable, plan=str(self.plan), log=str(self.log))
        )
        self.path.chmod(0o755)

    def will(self, *steps: dict[str, Any]) -> None:
        self.plan.write_text(json.dumps(list(steps)))

    def calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def claude(tmp_path: Path) -> FakeClaude:
    return FakeClaude(tmp_path)


def test_claude_code_drives_a_session(project: Any, claude: FakeClaude) -> None:
    worktree = project.spec()
    claude.will(
        {
            "edit": {"calc.py": "def add(a, b):\n    return a + b\n"},
            "result": fenced({"summary": "fixed add"}),
        }
    )
    outcome = engineer(
        project,
        worktree,
        forge_for(project, backend="claude-code", claude_command=str(claude.path)),
    )
    assert outcome.final == {"summary": "fixed add"} and outcome.backend == "claude-code"
    assert "a + b" in (worktree / "calc.py").read_text()
    (call,) = claude.calls()
    assert call["cwd"] == str(worktree)
    # The CLI gets its own credentials and settings, and no other secret.
    assert {"ANTHROPIC_API_KEY", "HOME", "CLAUDE_CODE_USE_BEDROCK", "PATH"} <= set(call["env"])
    assert "GITHUB_TOKEN" not in call["env"] and "AWS_SECRET_ACCESS_KEY" not in call["env"]
    argv = call["argv"]
    assert argv[:2] == ["-p", argv[1]] and "submit_work" in argv[1]
    assert argv[argv.index("--output-format") + 1] == "json"
    assert argv[argv.index("--model") + 1] == "claude-sonnet-5-5"
    usage = project.forge_json("show", "fix-add")["usage"]["engineer"]
    assert usage["cost_usd"] == pytest.approx(0.05) and usage["cache_read_tokens"] == 1200


def test_claude_code_reviewer_cannot_edit(project: Any, claude: FakeClaude) -> None:
    worktree = project.spec()
    verdict = {"approve": True, "blockers": [], "notes": "fine"}
    claude.will({"result": fenced(verdict)})
    forge = forge_for(project, backend="claude-code", claude_command=str(claude.path))
    outcome = run_session(
        forge, role="reviewer", system="s", prompt="review", worktree=worktree, slug="fix-add"
    )
    assert outcome.final == verdict
    argv = claude.calls()[0]["argv"]
    denied = argv[argv.index("--disallowedTools") + 1 : argv.index("--allowedTools")]
    assert {"Edit", "Write", "MultiEdit"} <= set(denied)


def test_claude_code_invalid_final_is_resumed_with_the_errors(
    project: Any, claude: FakeClaude
) -> None:
    worktree = project.spec()
    claude.will(
        {"result": "I am done!"},
        {"result": fenced({"summary": 3})},
        {"result": fenced({"summary": "ok"})},
    )
    outcome = engineer(
        project,
        worktree,
        forge_for(project, backend="claude-code", claude_command=str(claude.path)),
    )
    assert outcome.final == {"summary": "ok"}
    first, second, third = claude.calls()
    assert "--resume" not in first["argv"]
    assert second["argv"][second["argv"].index("--resume") + 1] == "sess-1"
    assert "no JSON object found" in second["argv"][1]
    assert "input.summary must be a string" in third["argv"][1]


def test_claude_code_failures_are_typed(project: Any, claude: FakeClaude) -> None:
    worktree = project.spec()
    forge = forge_for(project, backend="claude-code", claude_command=str(claude.path))
    claude.will({"result": "", "subtype": "error_max_turns", "is_error": True})
    with pytest.raises(TurnLimitReached):
        engineer(project, worktree, forge)
    claude.will({"result": fenced({"summary": "x"}), "cost": 50.0})
    with pytest.raises(BudgetExceeded, match="does not count"):
        engineer(project, worktree, forge)
    claude.will(*[{"result": "nope"}] * 3)
    with pytest.raises(NoFinalAnswer):
        engineer(project, worktree, forge)
    assert project.forge_json("show", "fix-add")["usage"]["engineer"]["calls"] == 5


def test_claude_code_not_installed(project: Any, tmp_path: Path) -> None:
    worktree = project.spec()
    forge = forge_for(project, backend="claude-code", claude_command="claude-not-here")
    with pytest.raises(BackendUnavailable, match="npm install"):
        engineer(project, worktree, forge)


def test_bad_session_requests_are_refused_before_anything_runs(
    project: Any, tmp_path: Path
) -> None:
    forge = forge_for(project, backend="scripted", script="none.json")
    with pytest.raises(UsageError, match="does not exist"):
        run_session(forge, role="engineer", system="s", prompt="p", worktree=tmp_path / "gone")
    with pytest.raises(UsageError, match="unknown role 'janitor'"):
        run_session(forge, role="janitor", system="s", prompt="p", worktree=tmp_path)
    with pytest.raises(UsageError, match="budget for this session is used up"):
        run_session(
            forge, role="engineer", system="s", prompt="p", worktree=tmp_path, budget_usd=0.0
        )
    assert not (project.root / ".git/forge/sessions").exists()


def test_claude_code_has_one_time_limit_however_many_runs(project: Any, claude: FakeClaude) -> None:
    worktree = project.spec()
    forge = open_forge(
        project.root,
        {
            "agent": {"backend": "claude-code", "claude_command": str(claude.path)},
            "timeouts": {"agent_session": 2.0},
        },
        env={"PATH": "/usr/bin:/bin"},
        warn=lambda m: None,
    )
    # Each run alone fits in 2 s; the second would end past the session's 2 s.
    claude.will(
        {"result": "no json yet", "sleep": 1.2},
        {"result": fenced({"summary": "late"}), "sleep": 1.2},
    )
    with pytest.raises(TimeLimitReached):
        engineer(project, worktree, forge)
    events = [
        json.loads(line)
        for line in next((project.root / ".git/forge/tasks/fix-add/transcripts").glob("*.jsonl"))
        .read_text()
        .splitlines()
    ]
    assert (events[-1]["outcome"], events[-1]["reason"]) == ("stopped", "time_limit")
