"""`forge lab ...`: metric mode. Evolve code against a locked evaluator."""

from __future__ import annotations

import sys
from typing import Any

import click

from leanforge.cli.build import parse_models
from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
    progress,
    quiet,
)
from leanforge.errors import UsageError


def _note(as_json: bool) -> Any:
    return quiet if as_json else progress


@click.group(context_settings=CONTEXT_SETTINGS)
def lab() -> None:
    """Metric mode: agents evolve code against a locked evaluator.

    \b
      forge lab init NAME --eval CMD --metric M --direction min --edit 'src/*.py'
      forge lab check NAME       run the evaluator once on the current code
      forge lab lock NAME        lock the evaluator, its data and settings (sha256)
      forge lab run NAME -n 10   experiments: kept if better beyond the noise, else archived
      forge lab status NAME      the experiments, the best, a chart
      forge lab promote NAME     merge the best into the target branch
    """


@lab.command("init", context_settings=CONTEXT_SETTINGS)
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


@lab.command("check", context_settings=CONTEXT_SETTINGS)
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
    done = check_lab(forge, config, repeats, _note(as_json))
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


@lab.command("lock", context_settings=CONTEXT_SETTINGS)
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


@lab.command("unlock", context_settings=CONTEXT_SETTINGS)
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


@lab.command("run", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    help="Experiments to run (default: until another limit).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Experiments at once.",
)
@click.option(
    "--max-hours",
    type=click.FloatRange(min=0, min_open=True),
    help="Start no experiment after this many hours.",
)
@click.option(
    "--max-cost", type=click.FloatRange(min=0), help="USD this run may spend (all agents)."
)
@click.option(
    "--target", "target_value", type=float, help="Stop once the best reaches this metric value."
)
@click.option(
    "--plateau",
    type=click.IntRange(min=1),
    help="Stop after K experiments in a row without a gain.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    help="Evaluator runs per experiment (default: lab.toml).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="[ROLE=]ID",
    help="Model id for every role, or lab_worker=ID; repeatable.",
)
@json_option
def run_cmd(
    name: str,
    count: int | None,
    jobs: int,
    max_hours: float | None,
    max_cost: float | None,
    target_value: float | None,
    plateau: int | None,
    repeats: int | None,
    models: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run experiments until a limit: -n, --max-hours, --max-cost, --target or --plateau.

    A killed run resumes with the same numbering and best when run again.
    """
    from leanforge.lab import setup
    from leanforge.lab.run import LabRun, RunOptions

    if (
        count is None
        and max_hours is None
        and max_cost is None
        and target_value is None
        and plateau is None
    ):
        raise UsageError(
            "give a stopping condition: -n N, --max-hours H, --max-cost USD, --target X or --plateau K"
        )
    forge = forge_here()
    config = setup.load(forge.paths.workdir, name)
    options = RunOptions(
        n=count,
        jobs=jobs,
        max_hours=max_hours,
        max_cost=max_cost,
        target=target_value,
        plateau=plateau,
        repeats=repeats,
        models=parse_models(models),
    )
    summary = LabRun(forge, config, options, _note(as_json)).run()
    best = summary.best
    if as_json:
        emit_json(
            {
                "name": name,
                "stop": summary.stop,
                "spent_usd": summary.spent_usd,
                "best": None
                if best is None
                else {"id": best.id, "commit": best.commit, "mean": best.mean, "std": best.std},
                "rows": summary.rows,
            }
        )
        return
    kept = sum(1 for r in summary.rows if r.get("kept"))
    click.echo(
        f"lab {name}: {len(summary.rows)} experiment(s), {kept} kept, ${summary.spent_usd:.4f}; stopped: {summary.stop}"
    )
    if best is not None:
        click.echo(
            f"best: #{best.id} {config.metric} = {best.mean:.6g} ± {best.std:.2g} on forge/lab/{name} ({best.commit[:12]})"
        )


@lab.command("status", context_settings=CONTEXT_SETTINGS)
@click.argument("name", required=False)
@json_option
def status_cmd(name: str | None, as_json: bool) -> None:
    """The experiments table, the best, and a chart (no NAME: every lab, one line each)."""
    from leanforge.lab import setup
    from leanforge.lab.ledger import LabPaths, Ledger
    from leanforge.lab.status import chart, summary, table

    forge = forge_here()
    names = [name] if name else setup.labs(forge.paths.workdir)
    docs = []
    for each in names:
        config = setup.load(forge.paths.workdir, each)
        ledger = Ledger(LabPaths(forge.paths, each))
        docs.append((config, summary(config, ledger.get(), ledger.rows())))
    if as_json:
        emit_json(docs[0][1] if name else {"labs": [d for _, d in docs]})
        return
    if not name:
        if not docs:
            click.echo("no labs yet: `forge lab init NAME --metric M --direction min --edit GLOB`")
        for config, doc in docs:
            best = doc["best"]
            shown = (
                f"best #{best['id']} {config.metric} = {best['mean']:.6g}" if best else "not run"
            )
            click.echo(
                f"{config.name}: {'locked' if doc['locked'] else 'unlocked'}, {doc['experiments']} experiment(s), {shown}"
            )
        return
    config, doc = docs[0]
    click.echo(
        f"lab {config.name}: {config.direction}imize {config.metric}; {'locked' if doc['locked'] else 'NOT locked'}; spent ${doc['spent_usd']:.4f}"
    )
    for line in table(doc["rows"]):
        click.echo(line)
    best, base = doc["best"], doc["baseline"]
    if best:
        change = f" (baseline {base['mean']:.6g})" if base else ""
        click.echo(
            f"best: #{best['id']} {config.metric} = {best['mean']:.6g}{change} at {best['commit'][:12]}"
        )
        click.echo("")
        for line in chart(doc["rows"], config.direction):
            click.echo(line)


@lab.command("promote", context_settings=CONTEXT_SETTINGS)
@click.argument("name")
@click.option(
    "--reviewers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Reviewers who must all approve the diff first.",
)
@click.option("--lens", "lenses", multiple=True, help="Reviewer lens (repeatable).")
@click.option("--model", default=None, metavar="ID", help="Model id for the reviewers.")
@json_option
def promote_cmd(
    name: str, reviewers: int, lenses: tuple[str, ...], model: str | None, as_json: bool
) -> None:
    """Merge the lab's best into its target branch: project tests, reviewers, trailers."""
    from leanforge.lab import setup
    from leanforge.lab.promote import promote

    forge = forge_here()
    config = setup.load(forge.paths.workdir, name)
    done = promote(
        forge, config, reviewers=reviewers, lenses=lenses, model=model, note=_note(as_json)
    )
    if as_json:
        emit_json(
            {
                "name": name,
                "commit": done.commit,
                "target": done.target,
                "best_id": done.best_id,
                "mean": done.mean,
                "baseline": done.baseline,
                "tests": done.tests,
                "verdicts": [{"lens": v.lens, "approve": v.approve} for v in done.verdicts],
            }
        )
        return
    click.echo(
        f"promoted lab {name} experiment #{done.best_id} into {done.target} as {done.commit[:12]} ({config.metric} {done.baseline:.6g} -> {done.mean:.6g})"
    )
