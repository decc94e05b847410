"""`forge spec`: lock acceptance tests for a task, written by hand or by the spec-writer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.markdown import Markdown
from rich.rule import Rule
from rich.syntax import Syntax

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.errors import UsageError
from leanforge.records import to_json
from leanforge.spec import SpecRequest, create_task
from leanforge.spec_agent import (
    APPROVE,
    CANCEL,
    EDIT,
    FEEDBACK,
    AgentSpecRequest,
    AutoApprove,
    Draft,
    Reviewer,
    write_spec,
)
from leanforge.spec_files import read_test_files

path_type = click.Path(path_type=Path, dir_okay=True)

#: The letter typed at the prompt for each choice.
_KEYS = {APPROVE: "a", EDIT: "e", FEEDBACK: "f", CANCEL: "c"}
_LABELS = {APPROVE: "[a]pprove", EDIT: "[e]dit", FEEDBACK: "[f]eedback", CANCEL: "[c]ancel"}


class ConsoleReviewer:
    """The human at the terminal: drafts shown and questions asked on stderr."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False)

    def show(self, draft: Draft) -> None:
        out = self.console
        out.print(Rule(f"draft {draft.number}: the spec (committed, shown to the engineer)"))
        out.print(Markdown(draft.spec))
        for title, files in (
            ("acceptance test (locked, shown to the engineer)", draft.acceptance),
            ("held-out test (locked, hidden from the engineer)", draft.holdout),
        ):
            for path, data in sorted(files.items()):
                out.print(Rule(f"{title}: {path}"))
                text = data.decode("utf-8", "replace")
                out.print(Syntax(text, "python", line_numbers=True, word_wrap=True))
        out.print(Rule())

    def choose(self, allowed: Sequence[str]) -> str:
        by_key = {_KEYS[c]: c for c in allowed}
        question = ", ".join(_LABELS[c] for c in allowed)
        try:
            key = click.prompt(question, type=click.Choice(list(by_key)), err=True)
        except click.Abort:  # end of input or Ctrl-C: nothing is kept
            click.echo(err=True)
            return CANCEL
        return by_key[key]

    def feedback(self) -> str:
        try:
            text: str = click.prompt(
                "What should the spec-writer change? (empty: back)",
                default="",
                show_default=False,
                err=True,
            )
        except click.Abort:
            click.echo(err=True)
            return ""
        return text

    def edit(self, files: Sequence[Path]) -> None:
        for path in files:
            click.edit(filename=str(path))

    def refused(self, problem: str) -> None:
        click.secho(f"✗ the edited draft fails its checks: {problem}", err=True, fg="red")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("task")
@click.option(
    "--tests",
    "tests",
    multiple=True,
    type=path_type,
    help="Acceptance test file you wrote (repeatable). Shown to the engineer, locked. "
    "Without it the spec-writer writes the spec and the tests.",
)
@click.option(
    "--holdout",
    multiple=True,
    type=path_type,
    help="Held-out test file (repeatable, with --tests). Locked, run by the gate, never shown.",
)
@click.option(
    "--slug",
    help="Task name: lowercase kebab-case, at most 50 characters. Derived from TASK if omitted.",
)
@click.option(
    "--base",
    help="Branch to start from and merge into. Default: pipeline.target_branch, else the current branch.",
)
@click.option(
    "--allow-passing", is_flag=True, help="Accept tests that already pass on the base commit."
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Approve the spec-writer's first draft that passes the checks, without asking.",
)
@click.option(
    "--model",
    help="Model id for the spec-writer. Default: models.spec_writer in the config.",
)
@json_option
def spec(
    task: str,
    tests: tuple[Path, ...],
    holdout: tuple[Path, ...],
    slug: str | None,
    base: str | None,
    allow_passing: bool,
    yes: bool,
    model: str | None,
    as_json: bool,
) -> None:
    """Write and lock the acceptance tests for TASK; create branch forge/<slug> and its worktree.

    \b
    By hand:   forge spec "TASK" --tests tests/test_x.py [--holdout holdout/test_y.py]
    By model:  forge spec "TASK" [--yes] [--model MODEL]

    With --tests your files are locked as they are. Without it a spec-writer agent writes the
    spec, acceptance tests and held-out tests in a scratch copy of the base commit; a draft
    that fails the checks goes back to it (up to pipeline.spec_drafts times). You then see the
    spec and every test and choose: approve, edit them in $EDITOR, give feedback for a new
    draft, or cancel (nothing is kept). --yes approves without asking.

    Either way the tests must fail on the base commit (red before green), in a test body or
    on a missing name, and held-out tests must not be committed. Prints the slug.
    """
    if holdout and not tests:
        raise UsageError(
            "--holdout needs --tests: pass your acceptance tests too, or leave both out to have the spec-writer write them"
        )
    if model and tests:
        raise UsageError("--model picks the spec-writer's model; with --tests no model runs")
    forge = forge_here()
    sink = quiet if as_json else progress
    if tests:
        root = forge.paths.workdir
        request = SpecRequest(
            task=task,
            visible_files=read_test_files(root, tests),
            holdout_files=read_test_files(root, holdout),
            slug=slug,
            base=base,
            allow_passing=allow_passing,
        )
        record = create_task(forge, request, sink)
    else:
        reviewer: Reviewer = AutoApprove() if yes else ConsoleReviewer()
        agent_request = AgentSpecRequest(
            task=task, slug=slug, base=base, model=model, allow_passing=allow_passing
        )
        record = write_spec(forge, agent_request, reviewer, sink)
    if as_json:
        emit_json(to_json(record))
        return
    click.echo(record.slug)
