"""`forge build`: engineer, gate, reviewers, merge and tech-lead, until merged or failed."""

from __future__ import annotations

import contextlib
import sys

import click

from leanforge.agent.protocol import ROLES
from leanforge.cli.common import CONTEXT_SETTINGS, emit_json, forge_here, json_option
from leanforge.cli.live import LiveReporter
from leanforge.errors import UsageError
from leanforge.pipeline.job import BuildOptions
from leanforge.pipeline.progress import LineReporter, Reporter, SilentReporter
from leanforge.records import to_json


def parse_models(given: tuple[str, ...]) -> dict[str, str]:
    """``--model ID`` (every role) or ``--model ROLE=ID``, repeatable."""
    models: dict[str, str] = {}
    for item in given:
        role, sep, model = item.partition("=")
        if not sep:
            role, model = "*", item
        role = role.replace("-", "_")
        if role != "*" and role not in ROLES:
            raise UsageError(f"--model {item}: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if not model.strip():
            raise UsageError(f"--model {item}: give a model id, e.g. --model claude-sonnet-5-5")
        models[role] = model.strip()
    return models


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("slugs", nargs=-1)
@click.option("--all", "build_all", is_flag=True, help="Build every task not yet merged or failed.")
@click.option("--reviewers", type=click.IntRange(min=1), help="Reviewers who must all approve.")
@click.option(
    "--lens",
    "lenses",
    multiple=True,
    help="Reviewer lens (repeatable; reviewers cycle through them). Built-in or .forge/lenses/NAME.md.",
)
@click.option(
    "--max-attempts", type=click.IntRange(min=1), help="Engineer attempts before the task fails."
)
@click.option(
    "--max-cost", type=click.FloatRange(min=0), help="USD the task may spend in all (all roles)."
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="[ROLE=]ID",
    help="Model id for every role, or for one role (engineer=ID); repeatable.",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, help="Tasks built at once.")
@click.option("--no-merge", is_flag=True, help="Stop once approved; a later `forge build` merges.")
@json_option
def build(
    slugs: tuple[str, ...],
    build_all: bool,
    reviewers: int | None,
    lenses: tuple[str, ...],
    max_attempts: int | None,
    max_cost: float | None,
    models: tuple[str, ...],
    jobs: int,
    no_merge: bool,
    as_json: bool,
) -> None:
    """Build SLUG: engineer → gate → reviewers → merge → playbook, retrying with feedback.

    Every failed step goes back to the engineer with the whole history, up to
    --max-attempts. A killed build resumes where it stopped when run again. Exit 0 when
    every task merged (or was approved with --no-merge), 1 otherwise.
    """
    if build_all and slugs:
        raise UsageError("give task slugs or --all, not both")
    from leanforge.pipeline.build import build_many, unfinished

    forge = forge_here()
    chosen = unfinished(forge) if build_all else list(dict.fromkeys(slugs))
    if not chosen:
        if build_all:
            raise UsageError('no unfinished tasks; `forge spec "task"` makes one')
        raise UsageError("say which task to build: forge build SLUG (or --all)")
    for slug in chosen:
        forge.store.get(slug)
    options = BuildOptions(
        reviewers=reviewers,
        lenses=lenses,
        max_attempts=max_attempts,
        max_cost=max_cost,
        models=parse_models(models),
        merge=not no_merge,
    )
    live = not as_json and sys.stderr.isatty()
    reporter: Reporter
    view: contextlib.AbstractContextManager[object]
    if as_json:
        reporter, view = SilentReporter(), contextlib.nullcontext()
    elif live:
        reporter = view = LiveReporter(chosen)
    else:
        reporter = LineReporter(lambda m: click.secho(f"· {m}", err=True, dim=True))
        view = contextlib.nullcontext()
    with view:
        outcomes = build_many(forge, chosen, options, reporter, jobs)
    if as_json:
        emit_json(
            {
                "ok": all(r.ok for r in outcomes),
                "builds": [{**r.row, "record": to_json(r.record)} for r in outcomes],
            }
        )
    else:
        for r in outcomes:
            cost = f"${r.row['cost_usd']:.4f}"
            where = f" as {r.record.merged_commit[:12]}" if r.record.merged_commit else ""
            why = f": {r.record.failure}" if r.record.failure and not r.ok else ""
            click.echo(
                f"{r.slug}: {r.outcome}{where} after {r.record.attempts} attempt(s), {cost}{why}"
            )
        if any(not r.ok for r in outcomes):
            click.echo("`forge show SLUG` has the details; the worktrees are kept.", err=True)
    sys.exit(0 if all(r.ok for r in outcomes) else 1)
