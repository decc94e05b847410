"""`forge lab promote`: merge the lab's best into its target, through the pipeline's merge.

Before the target moves: the lock must still hold, the merged tree must pass the project's own
test command in the sandbox, and, with ``--reviewers N``, every reviewer must approve the whole
diff. The merge commit carries ``Forge-Lab``, ``Forge-Lock`` and ``Forge-Metric`` trailers.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pygit2

from leanforge.agent.session import run_session
from leanforge.context import Forge
from leanforge.errors import AgentStopped, MergeRefused, UsageError
from leanforge.gate.changes import worktree_changes
from leanforge.gate.passes import project_argv
from leanforge.gate.scan import scan
from leanforge.git.commits import signature
from leanforge.git.merge import commit_merge, plan_merge
from leanforge.git.worktree import discard_worktree, recreate_worktree
from leanforge.lab import decide
from leanforge.lab.ledger import LabPaths, Ledger
from leanforge.lab.locking import verify
from leanforge.lab.setup import LabConfig, lab_dir
from leanforge.pipeline import history, verdicts
from leanforge.pipeline.attempts import Verdict
from leanforge.pipeline.lenses import panel
from leanforge.pipeline.merging import merge_lock
from leanforge.prompts import render_prompt

DIFF_LIMIT = 150_000


@dataclass(frozen=True)
class Promotion:
    commit: str
    target: str
    best_id: int
    mean: float
    baseline: float | None
    verdicts: tuple[Verdict, ...]
    tests: str


def _results_text(config: LabConfig, rows: Sequence[dict[str, object]]) -> str:
    kept = [r for r in rows if r.get("status") in (decide.KEPT, decide.BASELINE)]
    lines = [f"Metric `{config.metric}` ({config.direction}imize), kept experiments:"]
    lines += [f"- #{r['id']}: {decide.measure_text(r)}: {r.get('hypothesis')}" for r in kept]
    return "\n".join(lines)


def promote(
    forge: Forge,
    config: LabConfig,
    *,
    reviewers: int = 0,
    lenses: Sequence[str] = (),
    model: str | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> Promotion:
    paths = LabPaths(forge.paths, config.name)
    ledger = Ledger(paths)
    pristine = verify(forge, config)
    record = ledger.get()
    best = record.best
    if best is None or not record.baseline:
        raise UsageError(f"lab {config.name} has not run yet; `forge lab run {config.name}` first")
    repo = forge.repo
    lab_tip = repo.branches.local.get(paths.branch)
    target = repo.branches.local.get(config.target)
    if lab_tip is None or target is None:
        raise UsageError(f"lab {config.name}'s branch or its target {config.target!r} is missing")
    if lab_tip.target == target.target or repo.descendant_of(target.target, lab_tip.target):
        raise UsageError(
            f"lab {config.name} has kept nothing that {config.target} lacks; nothing to promote"
        )
    slug = paths.worktree_slug("promote")
    with merge_lock(forge.paths):
        plan = plan_merge(forge.repo, target=config.target, branch=paths.branch, overlay={})
        who = signature(forge.repo)
        probe = forge.repo.create_commit(
            None,
            who,
            who,
            "forge lab promote: candidate\n",
            plan.tree,
            [plan.target_old, plan.branch_head],
        )
        worktree = recreate_worktree(forge.repo, forge.paths, slug, str(probe))
        try:
            note(
                f"running the project's tests on the merged tree ({forge.config.gate.test_command})"
            )
            scratch = Path(tempfile.mkdtemp(prefix="forge-promote-"))
            ran = forge.runner(scratch).in_worktree(
                worktree,
                project_argv(forge.config.gate.test_command, forge.python),
                forge.config.timeouts.project_suite,
            )
            tests = f"the project's tests: exit code {ran.run.returncode}"
            if ran.run.returncode != 0:
                tail = (ran.run.stdout + ran.run.stderr).strip()[-800:]
                raise MergeRefused(
                    f"the project's tests fail on the merged tree ({ran.died}); nothing was merged. {tail}"
                )
            found: tuple[Verdict, ...] = ()
            if reviewers:
                base = forge.repo[plan.target_old].peel(pygit2.Commit)
                rows = ledger.rows()
                found = _review(
                    forge, config, worktree, base, rows, reviewers, lenses, model, note, tests
                )
                ledger.spend(sum(v.cost_usd for v in found))
                if not verdicts.panel_approves(found, reviewers):
                    blocks = [f"{v.lens}: {b.title}" for v in found for b in v.blockers]
                    why = "; ".join(blocks) or "; ".join(v.problem for v in found if v.problem)
                    raise MergeRefused(
                        f"not every reviewer approved ({why or 'a reviewer rejected'}); nothing was merged"
                    )
        finally:
            discard_worktree(forge.repo, forge.paths, slug)
        base_mean = record.baseline.get("mean")
        metric = f"{config.metric}={best.mean:.6g} (baseline {base_mean:.6g}, experiment {best.id})"
        commit = commit_merge(
            forge.repo,
            forge.paths,
            plan,
            message=f"forge: promote lab {config.name} ({config.metric} {base_mean:.6g} -> {best.mean:.6g})",
            trailers={
                "Forge-Lab": config.name,
                "Forge-Lock": f"sha256:{pristine.digest}",
                "Forge-Metric": metric,
            },
        )
    return Promotion(
        commit=str(commit),
        target=config.target,
        best_id=best.id,
        mean=best.mean,
        baseline=float(base_mean) if base_mean is not None else None,
        verdicts=found,
        tests=tests,
    )


def _review(
    forge: Forge,
    config: LabConfig,
    worktree: Path,
    base: pygit2.Commit,
    rows: Sequence[dict[str, object]],
    size: int,
    lenses: Sequence[str],
    model: str | None,
    note: Callable[[str], None],
    tests: str,
) -> tuple[Verdict, ...]:
    head = pygit2.Repository(str(worktree)).head.peel(pygit2.Commit)
    patch = base.tree.diff_to_tree(head.tree, context_lines=3).patch or ""
    task_md = lab_dir(forge.paths.workdir, config.name) / "task.md"
    spec = task_md.read_text(encoding="utf-8") if task_md.is_file() else ""
    prompt = render_prompt(
        "reviewer.task.md.j2",
        slug=f"lab-{config.name}",
        title=f"promote the best of lab {config.name}",
        spec=f"{spec}\n\n## Lab results\n\n{_results_text(config, rows)}",
        summary="Lab workers evolved this code against a locked evaluator; the kept experiments are listed in the spec.",
        attempt=1,
        diff=patch[:DIFF_LIMIT],
        diff_truncated=len(patch) > DIFF_LIMIT,
        gate=f"No acceptance tests: this is a metric lab. On the merged tree, {tests}.",
        flags=history.flags_text(scan(worktree_changes(worktree, base))),
    )
    chosen = panel(forge.paths.workdir, lenses or forge.config.pipeline.lenses, size)

    def one(number: int) -> Verdict:
        lens = chosen[number - 1]
        note(f"reviewer {number} ({lens.name}) reading the diff")
        try:
            outcome = run_session(
                forge.fork(),
                role="reviewer",
                system=render_prompt("reviewer.md.j2", lens_name=lens.name, lens=lens.text),
                prompt=prompt,
                worktree=worktree,
                model_id=model,
                transcripts=LabPaths(forge.paths, config.name).transcripts,
            )
            verdict = verdicts.judge(number, lens.name, outcome.final)
            return dataclasses.replace(verdict, cost_usd=outcome.usage.cost_usd)
        except AgentStopped as exc:
            return verdicts.judge(number, lens.name, None, str(exc))

    with ThreadPoolExecutor(max_workers=size) as pool:
        return tuple(pool.map(one, range(1, size + 1)))
