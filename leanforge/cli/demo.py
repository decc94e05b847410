"""`forge demo`: the whole pipeline on a small project, offline, in under a minute."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from leanforge.cli.common import CONTEXT_SETTINGS, emit_json, json_option, progress, quiet
from leanforge.pipeline.history import format_attempt
from leanforge.pipeline.progress import LineReporter, SilentReporter
from leanforge.records import to_json

SCRIPTED = (
    "The agents were scripted: they replayed prepared replies through the real pipeline "
    "(git worktrees, the locked tests, the hardened gate in the sandbox, real pytest runs, "
    "the merge); no model was called. `forge demo --live` does the same with the real model "
    "(it needs ANTHROPIC_API_KEY)."
)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--live", is_flag=True, help="Use the real model (needs ANTHROPIC_API_KEY).")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to create the demo project (default: a new temporary directory).",
)
@json_option
def demo(live: bool, directory: Path | None, as_json: bool) -> None:
    """Watch forge take one sentence to merged code, in a fresh demo repository.

    Creates a small project, then runs spec → build --reviewers 3 → merge → playbook.
    The replay includes a failed gate and a reviewer's blocker, so you see the loop work.
    Offline unless --live. Your own repositories are not touched.
    """
    from leanforge.pipeline.demo import run_demo

    say = quiet if as_json else progress
    reporter = SilentReporter() if as_json else LineReporter(say)
    run = run_demo(directory, live=live, env=dict(os.environ), progress=say, reporter=reporter)
    record, slug = run.result.record, run.result.slug
    if as_json:
        emit_json(
            {
                "repo": str(run.repo),
                "live": live,
                "outcome": run.result.outcome,
                "seconds": round(run.seconds, 1),
                "build": run.result.row,
                "record": to_json(record),
            }
        )
        sys.exit(0 if run.result.ok else 1)
    click.echo(
        f"\nforge demo: {slug} {run.result.outcome} after {record.attempts} attempt(s) "
        f"in {run.seconds:.0f}s"
    )
    for attempt in run.attempts:
        click.echo(f"  attempt {attempt.number}  {format_attempt(attempt)}")
    if record.merged_commit:
        click.echo(f"  merged as {record.merged_commit[:12]}; playbook {record.playbook_status}")
    click.echo("")
    click.echo(SCRIPTED if not live else "The agents ran on the real model.")
    click.echo("\nLook around:")
    for line in (
        f"cd {run.repo}",
        f"forge show {slug}",
        "git log --oneline --graph",
        "cat .forge/PLAYBOOK.md",
    ):
        click.echo(f"  {line}")
    sys.exit(0 if run.result.ok else 1)
