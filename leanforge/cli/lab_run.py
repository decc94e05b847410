"""`forge lab run|status|promote`: experiments, their results, and merging the best."""

from __future__ import annotations

import click

from leanforge.cli.build import parse_models
from leanforge.cli.common import (
    CONTEXT_SETTINGS,
    emit_json,
    forge_here,
    json_option,
)
from leanforge.cli.lab_setup import note_for
from leanforge.errors import UsageError


@click.command("run", context_settings=CONTEXT_SETTINGS)
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
    summary = LabRun(forge, config, options, note_for(as_json)).run()
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


@click.command("status", context_settings=CONTEXT_SETTINGS)
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


@click.command("promote", context_settings=CONTEXT_SETTINGS)
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
        forge, config, reviewers=reviewers, lenses=lenses, model=model, note=note_for(as_json)
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
