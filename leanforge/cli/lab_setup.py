"""`forge lab init|check|lock|unlock`: define a lab, try its evaluator, lock it."""

from __future__ import annotations

import sys
from typing import Any

import click

from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.errors import UsageError


def note_for(as_json: bool) -> Any:
    """Progress lines on stderr, or nothing for --json."""
    return quiet if as_json else progress


@click.command("init", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option(
    "--eval",
    "eval_command",
    metavar="CMD",
    help="Evaluator command (bash, run in the candidate's worktree). Default: a starter evaluate.py in the lab folder.",
)
@click.option(
    "--metric", required=True, help="The metric to optimize, as the evaluator reports it."
)
@click.option(
    "--direction",
    required=True,
    type=click.Choice(["min", "max"]),
    help="Lower (min) or higher (max) is better.",
)
@click.option(
    "--edit",
    "edit",
    multiple=True,
    required=True,
    metavar="GLOB",
    help="What the worker may change (repeatable; '*' crosses '/', a folder covers its contents).",
)
@click.option(
    "--data",
    multiple=True,
    metavar="PATH",
    help="A data file the evaluator reads; locked with it (repeatable).",
)
@click.option(
    "--eval-file",
    "eval_files",
    multiple=True,
    metavar="PATH",
    help="Another evaluator file to lock (files named in --eval are found).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds one evaluator run may take.",
)
@click.option(
    "--target",
    metavar="BRANCH",
    help="Branch the lab starts from and promotes into (default: the current one).",
)
@click.option(
    "--goal", default="", help="One sentence for task.md: what the workers should achieve."
)
@json_option
def init_cmd(
    name: str,
    eval_command: str | None,
    metric: str,
    direction: str,
    edit: tuple[str, ...],
    data: tuple[str, ...],
    eval_files: tuple[str, ...],
    timeout: float,
    target: str | None,
    goal: str,
    as_json: bool,
) -> None:
    """Create .forge/labs/NAME/ (lab.toml, task.md, and a starter evaluator if --eval is not given)."""
    from leanforge.lab.create import init_lab

    forge = forge_here()
    made = init_lab(
        forge,
        name,
        eval_command=eval_command,
        metric=metric,
        direction=direction,
        edit=edit,
        data=data,
        evaluator=eval_files,
        timeout=timeout,
        target=target,
        goal=goal,
    )
    config = made.config
    if as_json:
        emit_json(
            {
                "name": name,
                "written": list(made.written),
                "evaluator": list(config.evaluator),
                "data": list(config.data),
                "eval": config.eval,
                "target": config.target,
            }
        )
        return
    for path in made.written:
        click.echo(f"wrote {path}")
    click.echo(f"evaluator files locked with it: {', '.join(config.evaluator)}")
    click.echo(
        f"next: edit task.md, `forge lab check {name}`, then `forge lab lock {name}` and `forge lab run {name}`"
    )


@click.command("check", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option(
    "--repeats", type=click.IntRange(min=1), default=1, show_default=True, help="Evaluator runs."
)
@json_option
def check_cmd(name: str, repeats: int, as_json: bool) -> None:
    """Run the evaluator on the lab's current code and show the metrics (exit 1 if it fails)."""
    from leanforge.lab import setup
    from leanforge.lab.create import check_lab, diagnosis
    from leanforge.lab.evaluate import EXPECTED_FORM, evaluation_json
    from leanforge.lab.ledger import LabPaths, Ledger

    forge = forge_here()
    config = setup.load(forge.paths.workdir, name)
    done = check_lab(forge, config, repeats, note_for(as_json))
    ev = done.evaluation
    locked = bool(Ledger(LabPaths(forge.paths, name)).get().lock_sha256)
    if as_json:
        emit_json(
            {
                **evaluation_json(ev),
                "name": name,
                "commit": done.commit,
                "locked": locked,
                "diagnosis": "" if ev.ok else diagnosis(ev),
            }
        )
    elif ev.ok and ev.measure is not None:
        click.echo(
            f"{config.metric} = {ev.measure.mean:.6g}"
            + (f" ± {ev.measure.std:.2g} over {len(ev.runs)} runs" if len(ev.runs) > 1 else "")
        )
        for metric, value in ev.metrics.items():
            if metric != config.metric:
                click.echo(f"  {metric} = {value:.6g}")
        click.echo(
            "locked" if locked else f"not locked yet: `forge lab lock {name}` when this looks right"
        )
    else:
        click.echo(f"the evaluator failed: {ev.error}", err=True)
        click.echo(diagnosis(ev), err=True)
        click.echo(f"expected: {EXPECTED_FORM}", err=True)
    sys.exit(0 if ev.ok else 1)


@click.command("lock", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@json_option
def lock_cmd(name: str, as_json: bool) -> None:
    """Lock the evaluator's files, its command, its data and the metric settings by sha256."""
    from leanforge.lab import setup
    from leanforge.lab.locking import lock_lab

    forge = forge_here()
    config = setup.load(forge.paths.workdir, name)
    digest, new = lock_lab(forge, config)
    if as_json:
        emit_json(
            {
                "name": name,
                "lock_sha256": digest,
                "changed": new,
                "files": list(config.locked_paths),
            }
        )
        return
    click.echo(
        f"{'locked' if new else 'already locked'} lab {name}: sha256:{digest[:16]}… over {', '.join(config.locked_paths)} and lab.toml [lab]"
    )


@click.command("unlock", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--reason", default="", help="Why; recorded in the lab's history.")
@json_option
def unlock_cmd(name: str, yes: bool, reason: str, as_json: bool) -> None:
    """Drop the lab's lock so its evaluator may change; recorded in the lab's history."""
    from leanforge.lab import setup
    from leanforge.lab.locking import unlock_lab

    forge = forge_here()
    setup.load(forge.paths.workdir, name)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"unlocking lab {name} needs confirmation; pass --yes")
        click.confirm(
            f"Unlock lab {name}? Results measured so far will be re-baselined when it is locked again",
            abort=True,
        )
    digest = unlock_lab(forge, name, reason)
    if as_json:
        emit_json({"name": name, "unlocked": digest})
        return
    click.echo(
        f"unlocked lab {name} (was sha256:{digest[:16]}…); `forge lab lock {name}` when ready"
    )
