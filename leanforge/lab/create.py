"""`forge lab init` and `forge lab check`: define a lab, then see what its evaluator reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pygit2

from leanforge.context import Forge
from leanforge.errors import UsageError
from leanforge.git.worktree import discard_worktree, recreate_worktree
from leanforge.lab import setup
from leanforge.lab.evaluate import Evaluation, evaluate
from leanforge.lab.ledger import LabPaths
from leanforge.lab.locking import current_contents
from leanforge.lab.setup import LabConfig, RunDefaults
from leanforge.prompts import render_prompt


@dataclass(frozen=True)
class NewLab:
    config: LabConfig
    written: tuple[str, ...]


def init_lab(
    forge: Forge,
    name: str,
    *,
    eval_command: str | None,
    metric: str,
    direction: str,
    edit: Sequence[str],
    data: Sequence[str] = (),
    evaluator: Sequence[str] = (),
    timeout: float = 300.0,
    target: str | None = None,
    goal: str = "",
) -> NewLab:
    """Write ``.forge/labs/NAME/`` (lab.toml, task.md, and a starter evaluator if none is named)."""
    setup.check_name(name)
    workdir = forge.paths.workdir
    folder = setup.lab_dir(workdir, name)
    if (folder / "lab.toml").exists():
        raise UsageError(f"lab {name} already exists ({folder / 'lab.toml'}); pick another name")
    if target is None:
        if forge.repo.head_is_detached:
            raise UsageError("HEAD is detached; pass --target BRANCH for the lab to start from")
        target = forge.repo.head.shorthand
    if forge.repo.branches.local.get(target) is None:
        raise UsageError(f"no local branch named {target!r}; pass --target with an existing branch")
    starter = ""
    if not eval_command:
        starter = f"{setup.LABS_RELPATH}/{name}/evaluate.py"
        eval_command = f"python {starter}"
    files = {setup.clean_path(workdir, p, "--eval-file") for p in evaluator}
    files |= set(setup.files_in_command(workdir, eval_command))
    if starter:
        files.add(starter)
    clean_data = tuple(sorted({setup.clean_path(workdir, p, "--data") for p in data}))
    for path in clean_data:
        if not (workdir / path).is_file():
            raise UsageError(
                f"--data {path} is not a file; name each data file the evaluator reads"
            )
    if not files:
        raise UsageError(
            f"--eval {eval_command!r} names no file in the repository; add --eval-file PATH for "
            "each evaluator file, so the lock covers them"
        )
    config = setup.validate(
        LabConfig(
            name=name,
            eval=eval_command,
            metric=metric,
            direction=direction,
            edit=tuple(dict.fromkeys(edit)),
            data=clean_data,
            evaluator=tuple(sorted(files)),
            timeout=timeout,
            target=target,
            run=RunDefaults(),
        )
    )
    missing = [p for p in config.evaluator if p != starter and not (workdir / p).is_file()]
    if missing:
        raise UsageError(f"evaluator file(s) {', '.join(missing)} do not exist; write them first")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if starter and not (workdir / starter).exists():
        (workdir / starter).write_text(render_prompt("lab/evaluate.py.j2", lab=name, metric=metric))
        written.append(starter)
    task = folder / "task.md"
    if not task.exists():
        task.write_text(
            render_prompt(
                "lab/task.md.j2",
                lab=name,
                goal=goal or f"Improve `{metric}` without breaking the code.",
                eval_command=eval_command,
                metric=metric,
                direction=direction,
                edit=list(config.edit),
            )
        )
        written.append(f"{setup.LABS_RELPATH}/{name}/task.md")
    (folder / "lab.toml").write_text(setup.render(config))
    written.append(f"{setup.LABS_RELPATH}/{name}/lab.toml")
    return NewLab(config=config, written=tuple(written))


@dataclass(frozen=True)
class Check:
    evaluation: Evaluation
    commit: str


def check_lab(
    forge: Forge, config: LabConfig, repeats: int = 1, note: Callable[[str], None] = print
) -> Check:
    """Run the evaluator on the lab's starting code, with the evaluator files from the checkout.

    The starting code is the lab branch's tip once the lab has run, else the target's tip.
    """
    paths = LabPaths(forge.paths, config.name)
    repo = forge.repo
    branch = repo.branches.local.get(paths.branch) or repo.branches.local.get(config.target)
    if branch is None:
        raise UsageError(f"no branch {config.target!r} to evaluate; set target in lab.toml")
    commit = branch.peel(pygit2.Commit)
    contents, missing = current_contents(forge, config)
    if missing:
        raise UsageError(f"locked file(s) {', '.join(missing)} do not exist; create them first")
    files = {path: data for (kind, path), data in contents.items() if kind != "settings"}
    slug = paths.worktree_slug("check")
    worktree = recreate_worktree(repo, forge.paths, slug, str(commit.id))
    try:
        note(
            f"evaluating {branch.shorthand} at {str(commit.id)[:12]} ({repeats} run(s)): {config.eval}"
        )
        evaluation = evaluate(forge, config, worktree, files, repeats)
    finally:
        discard_worktree(repo, forge.paths, slug)
    return Check(evaluation=evaluation, commit=str(commit.id))


def diagnosis(evaluation: Evaluation, limit: int = 1500) -> str:
    """What the evaluator printed, for a failed check: stdout and stderr tails."""
    if not evaluation.runs:
        return ""
    run = evaluation.runs[-1]
    parts = []
    for label, text in (("stdout", run.stdout), ("stderr", run.stderr)):
        body = text.strip()
        parts.append(f"--- evaluator {label} ---\n{body[-limit:] if body else '(empty)'}")
    return "\n".join(parts)
