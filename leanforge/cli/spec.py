"""`forge spec`: the human path of locking acceptance tests for a task."""

from __future__ import annotations

from pathlib import Path

import click

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.records import to_json
from leanforge.spec import SpecRequest, create_task

path_type = click.Path(path_type=Path, dir_okay=True)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("task")
@click.option(
    "--tests",
    "tests",
    multiple=True,
    type=path_type,
    help="Acceptance test file (repeatable). Shown to the engineer, locked.",
)
@click.option(
    "--holdout",
    multiple=True,
    type=path_type,
    help="Held-out test file (repeatable). Locked, run by the gate, never shown.",
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
@json_option
def spec(
    task: str,
    tests: tuple[Path, ...],
    holdout: tuple[Path, ...],
    slug: str | None,
    base: str | None,
    allow_passing: bool,
    as_json: bool,
) -> None:
    """Lock acceptance tests for TASK, create branch forge/<slug> and its worktree.

    The tests must fail on the base commit (red before green), in a test body or on a
    missing name. Prints the slug.
    """
    forge = forge_here()
    request = SpecRequest(
        task=task, tests=tests, holdout=holdout, slug=slug, base=base, allow_passing=allow_passing
    )
    record = create_task(forge, request, quiet if as_json else progress)
    if as_json:
        emit_json(to_json(record))
        return
    click.echo(record.slug)
