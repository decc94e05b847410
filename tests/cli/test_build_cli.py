"""`forge build` input handling and its live view, without running a model."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from leanforge.cli.build import parse_models
from leanforge.cli.live import LiveReporter
from leanforge.errors import UsageError
from leanforge.records import Usage


def test_model_flags_set_every_role_or_one() -> None:
    assert parse_models(("m1",)) == {"*": "m1"}
    assert parse_models(("m1", "engineer=m2", "tech-lead=m3")) == {
        "*": "m1",
        "engineer": "m2",
        "tech_lead": "m3",
    }
    with pytest.raises(UsageError, match="unknown role 'chef'"):
        parse_models(("chef=m",))
    with pytest.raises(UsageError, match="give a model id"):
        parse_models(("engineer=",))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["build"], "say which task to build"),
        (["build", "--all"], "no unfinished tasks"),
        (["build", "nope"], "no task named 'nope'"),
        (["build", "fix-add", "--all"], "not both"),
        (["build", "fix-add", "--reviewers", "0"], "--reviewers"),
        (["build", "fix-add", "--lens", "../etc"], "lens"),
        (["build", "fix-add"], "ANTHROPIC_API_KEY is not set"),
    ],
)
def test_bad_input_is_one_line_and_exits_2(project: Any, args: list[str], says: str) -> None:
    if "fix-add" in args:
        project.spec(holdout=False)
    result = project.forge(*args)
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    if "fix-add" in args:  # refused before the task moved
        assert project.forge_json("show", "fix-add")["status"] == "specced"


def test_build_help_names_every_option(project: Any) -> None:
    out = project.forge("build", "-h").output
    for option in (
        "--reviewers",
        "--lens",
        "--max-attempts",
        "--max-cost",
        "--model",
        "-j",
        "--no-merge",
        "--all",
        "--json",
    ):
        assert option in out


def test_the_live_view_shows_stage_attempt_reviewers_tokens_and_cost() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with LiveReporter(["fix-add"], console=console) as live:
        live.stage("fix-add", "review", 2, 3)
        live.reviewer("fix-add", 1, "correctness", "approved")
        live.reviewer("fix-add", 2, "security", "blocked")
        live.spent("fix-add", Usage(calls=3, input_tokens=1200, output_tokens=300, cost_usd=0.0123))
        live.note("fix-add", "reviewer 2 (security) blocks: eval")
    text = buffer.getvalue()
    for part in (
        "fix-add",
        "review",
        "2/3",
        "correctness",
        "security",
        "1,500",
        "$0.0123",
        "blocks: eval",
    ):
        assert part in text
