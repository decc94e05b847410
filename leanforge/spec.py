"""`forge spec`'s shared core: check a spec and its test files, then lock them into a task.

Both paths end here. The human path (``--tests``) reads the user's files; the model path
(:mod:`leanforge.spec_agent`) reads what the spec-writer wrote (:mod:`leanforge.spec_files`). Everything is checked first,
red before green included, before anything is created; locking then writes the lock store,
the spec commit, branch ``forge/<slug>`` and its worktree, and undoes all of it on any failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pygit2

from leanforge import lock
from leanforge import slug as slug_mod
from leanforge.clock import iso
from leanforge.context import Forge
from leanforge.errors import BadTestPath, DuplicateSlug, RedBeforeGreen, UsageError
from leanforge.gate.changes import blob_bytes
from leanforge.gate.run import SPEC_DIR, build_gate_tree
from leanforge.git.commits import commit_files
from leanforge.git.merge import export_tree
from leanforge.git.worktree import branch_name, create_worktree, resolve_branch
from leanforge.records import SPECCED, Event, TaskRecord
from leanforge.redgreen import Verdict, judge
from leanforge.spec_files import check_test_files, clean_test_path
from leanforge.state import forge_lock
from leanforge.tasks import discard_task

Progress = Callable[[str], None]

HUMAN_NOTE = "tests locked by hand"
AGENT_NOTE = "spec and tests written by the spec-writer"


@dataclass(frozen=True)
class SpecRequest:
    """What to lock: the task, its test files by repo-relative POSIX path, and where to start.

    ``spec_text`` is the spec's markdown; None writes a short one listing the tests (the human
    path). ``note`` goes into the task's history.
    """

    task: str
    visible_files: Mapping[str, bytes]
    holdout_files: Mapping[str, bytes] = field(default_factory=dict)
    slug: str | None = None
    base: str | None = None
    allow_passing: bool = False
    spec_text: str | None = None
    note: str = HUMAN_NOTE


@dataclass(frozen=True)
class Target:
    """Where a new task starts: its slug, still free, and the base branch's tip."""

    slug: str
    base_branch: str
    base: pygit2.Commit


@dataclass(frozen=True)
class Checked:
    """A request that passed every check, ready to lock."""

    request: SpecRequest
    target: Target
    spec: str
    verdict: Verdict


def spec_markdown(task: str, visible: Sequence[str], holdout_count: int) -> str:
    lines = [f"# {task}", "", "## Acceptance tests (locked)", ""]
    lines += [f"- `{p}`" for p in visible]
    lines += [
        "",
        f"Held-out tests: {holdout_count} (run by the gate, never shown to the engineer)",
        "",
    ]
    return "\n".join(lines)


def plan_target(
    forge: Forge, task: str, slug: str | None = None, base: str | None = None
) -> Target:
    """Check the task, pick the slug (given or derived, and free) and resolve the base branch."""
    if not task.strip():
        raise UsageError("the task description is empty; say what should be built")
    store, repo = forge.store, forge.repo
    taken = set(store.slugs()) | {b.removeprefix("forge/") for b in repo.branches.local}
    name = slug_mod.validate(slug) if slug else slug_mod.derive(task, taken)
    _ensure_free(forge, name)
    base_branch, commit = resolve_branch(repo, base or forge.config.pipeline.target_branch or None)
    return Target(slug=name, base_branch=base_branch, base=commit)


def validate(
    forge: Forge, request: SpecRequest, progress: Progress, target: Target | None = None
) -> Checked:
    """Every check a spec must pass before it is locked; creates nothing."""
    target = target or plan_target(forge, request.task, request.slug, request.base)
    visible, holdout = request.visible_files, request.holdout_files
    if not visible:
        raise UsageError("no acceptance tests given; a task needs at least one test file")
    for rel in (*visible, *holdout):
        if clean_test_path(rel) != rel:
            raise BadTestPath(f"test path {rel} is not in its plain form ({clean_test_path(rel)})")
    check_test_files(visible, "acceptance")
    check_test_files(holdout, "held-out")
    if overlap := sorted(set(visible) & set(holdout)):
        raise UsageError(
            f"{overlap[0]} is given as both an acceptance and a held-out test; pick one"
        )
    for rel in holdout:
        if blob_bytes(target.base.tree, rel) is not None:
            raise UsageError(
                f"held-out test {rel} is committed on {target.base_branch}, so the engineer could read it; keep held-out tests out of git"
            )
    spec = request.spec_text
    if spec is None:
        spec = spec_markdown(request.task.strip(), sorted(visible), len(holdout))
    elif not spec.strip():
        raise UsageError("the spec is empty; it must say what to build")
    forge.python  # noqa: B018 - fail on a missing interpreter before the run
    verdict = _check_red(forge, request, target.base, progress)
    return Checked(request=request, target=target, spec=spec.strip() + "\n", verdict=verdict)


def lock_task(forge: Forge, checked: Checked, progress: Progress) -> TaskRecord:
    """Create the task from a checked request: lock, spec commit, branch, worktree, record.

    On any failure everything created so far is removed again.
    """
    slug = checked.target.slug
    reserved = False
    try:
        with forge_lock(forge.paths):
            _ensure_free(forge, slug)
            reserved = True
            manifest, start, worktree = _reserve(forge, checked, progress)
            record = _record(forge, checked, start, worktree, manifest)
            forge.store.put(record)
        return record
    except BaseException:
        if reserved:
            discard_task(forge, slug)
        raise


def create_task(forge: Forge, request: SpecRequest, progress: Progress) -> TaskRecord:
    """Check everything first, then create the task; on any failure, undo it all."""
    return lock_task(forge, validate(forge, request, progress), progress)


def _ensure_free(forge: Forge, slug: str) -> None:
    if forge.store.exists(slug) or forge.repo.branches.local.get(branch_name(slug)) is not None:
        raise DuplicateSlug(
            f"a task or branch named {slug!r} already exists; pass --slug with another name"
        )


def _reserve(
    forge: Forge, checked: Checked, progress: Progress
) -> tuple[lock.Manifest, pygit2.Commit, Path]:
    """Write the lock store, the spec commit and the task's branch and worktree."""
    slug, base = checked.target.slug, checked.target.base
    visible, holdout = checked.request.visible_files, checked.request.holdout_files
    spec_path = f"{SPEC_DIR}/{slug}.md"
    spec = checked.spec.encode()
    contents = {(lock.ACCEPTANCE, p): d for p, d in visible.items()}
    contents |= {(lock.HOLDOUT, p): d for p, d in holdout.items()}
    contents[(lock.SPEC, spec_path)] = spec
    manifest = lock.write_lock(forge.store.lock_dir(slug), slug, contents)
    progress(
        f"locked {len(visible)} acceptance and {len(holdout)} held-out test file(s): sha256:{manifest.digest[:12]}…"
    )
    message = f"forge: acceptance tests for {slug}\n\nForge-Task: {slug}\nForge-Lock: sha256:{manifest.digest}\n"
    start = commit_files(forge.repo, base, {**visible, spec_path: spec}, message)
    worktree = create_worktree(forge.repo, forge.paths, slug, start)
    progress(
        f"created branch {branch_name(slug)} from {checked.target.base_branch} ({str(base.id)[:10]}) and its worktree {worktree}"
    )
    return manifest, start, worktree


def _record(
    forge: Forge,
    checked: Checked,
    start: pygit2.Commit,
    worktree: Path,
    manifest: lock.Manifest,
) -> TaskRecord:
    now = iso(forge.clock.now())
    target, request = checked.target, checked.request
    return TaskRecord(
        slug=target.slug,
        title=request.task.strip(),
        status=SPECCED,
        base_branch=target.base_branch,
        base_commit=str(target.base.id),
        spec_commit=str(start.id),
        branch=branch_name(target.slug),
        worktree=str(worktree),
        lock_sha256=manifest.digest,
        locked_files=tuple(sorted(request.visible_files)),
        holdout_count=len(request.holdout_files),
        created_at=now,
        updated_at=now,
        history=(Event(at=now, status=SPECCED, note=request.note),),
    )


def _check_red(
    forge: Forge, request: SpecRequest, base: pygit2.Commit, progress: Progress
) -> Verdict:
    tests = {**request.visible_files, **request.holdout_files}
    verdict = _red_before_green(forge, base, request.visible_files, tests)
    if not verdict.ok(request.allow_passing):
        first = (verdict.problems or verdict.passing)[0]
        hint = (
            ""
            if verdict.problems
            else f" (and {len(verdict.passing)} test(s) pass already); pass --allow-passing if that is intended"
        )
        reason = first if verdict.problems else f"{first} already passes on the base commit"
        raise RedBeforeGreen(f"red before green refused: {reason}{hint}")
    passing = f", {len(verdict.passing)} passing (allowed)" if verdict.passing else ""
    progress(f"red before green: {verdict.red} failing as expected{passing}")
    return verdict


def _red_before_green(
    forge: Forge, base: pygit2.Commit, visible: Mapping[str, bytes], tests: Mapping[str, bytes]
) -> Verdict:
    """Run ``tests`` against the base commit plus the visible tests, as the engineer will start.

    The base is exported afresh, so nothing from a draft area (changed source files, say) can
    make tests look red or green.
    """
    scratch = Path(tempfile.mkdtemp(prefix="forge-spec-"))
    try:
        checkout = scratch / "base"
        export_tree(forge.repo, base.tree.id, checkout)
        for rel, data in visible.items():
            _write_inside(checkout, rel, data)
        tree, expected = build_gate_tree(forge.repo, base, checkout, dict(tests), scratch / "tree")
        result = forge.runner(scratch).isolated(
            tree.a, tree.ini, tree.tests, checkout, forge.config.timeouts.test_run
        )
        if result.cases is None:
            raise RedBeforeGreen(
                f"the tests could not run on the base commit ({result.died}); check the interpreter and the tests"
            )
        return judge(result.cases, expected, sorted(tests))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write_inside(root: Path, rel: str, data: bytes) -> None:
    """Write ``root/rel``, never through a symlink the base tree may hold on the way."""
    target = root / rel
    parts = PurePosixPath(rel).parts
    for depth in range(1, len(parts)):
        if root.joinpath(*parts[:depth]).is_symlink():
            raise BadTestPath(f"{rel} would be written through a symlink in the base commit")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
