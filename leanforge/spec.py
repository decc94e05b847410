"""`forge spec`, the human path: lock the user's tests, branch, worktree, red before green."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pygit2

from leanforge import lock
from leanforge import slug as slug_mod
from leanforge.clock import iso
from leanforge.context import Forge
from leanforge.errors import BadTestPath, DuplicateSlug, RedBeforeGreen, UsageError
from leanforge.gate import testfiles
from leanforge.gate.changes import blob_bytes
from leanforge.gate.run import SPEC_DIR, build_gate_tree
from leanforge.git.commits import commit_files
from leanforge.git.worktree import (
    branch_name,
    create_worktree,
    resolve_branch,
)
from leanforge.records import SPECCED, Event, TaskRecord
from leanforge.redgreen import Verdict, judge
from leanforge.state import forge_lock
from leanforge.tasks import discard_task

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SpecRequest:
    task: str
    tests: tuple[Path, ...]
    holdout: tuple[Path, ...] = ()
    slug: str | None = None
    base: str | None = None
    allow_passing: bool = False


def repo_relative(workdir: Path, given: Path) -> str:
    """The POSIX path of ``given`` inside the repository, or a one-line reason it is not."""
    absolute = given if given.is_absolute() else Path.cwd() / given
    if not absolute.exists():
        raise BadTestPath(f"test file {given} does not exist")
    if not absolute.is_file():
        raise BadTestPath(f"{given} is not a file; pass test files, not folders")
    resolved = absolute.resolve()
    if not resolved.is_relative_to(workdir):
        raise BadTestPath(
            f"{given} is outside the repository {workdir}; tests must live in the repo"
        )
    rel = resolved.relative_to(workdir)
    if rel.parts[0] == ".git" or rel.suffix != ".py":
        raise BadTestPath(f"{given} is not a Python test file in the working tree")
    return rel.as_posix()


def spec_markdown(task: str, visible: Sequence[str], holdout_count: int) -> str:
    lines = [f"# {task}", "", "## Acceptance tests (locked)", ""]
    lines += [f"- `{p}`" for p in visible]
    lines += [
        "",
        f"Held-out tests: {holdout_count} (run by the gate, never shown to the engineer)",
        "",
    ]
    return "\n".join(lines)


def _read_tests(forge: Forge, given: Sequence[Path], kind: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in given:
        rel = repo_relative(forge.paths.workdir, path)
        data = (forge.paths.workdir / rel).read_bytes()
        try:
            found = testfiles.expected_tests(rel, data)
        except SyntaxError as exc:
            raise RedBeforeGreen(
                f"{rel} has a syntax error at line {exc.lineno}: {exc.msg}; fix the test file"
            ) from exc
        if not found:
            raise RedBeforeGreen(
                f"{rel} defines no test functions; a {kind} test file needs at least one test_* function"
            )
        out[rel] = data
    return out


def create_task(forge: Forge, request: SpecRequest, progress: Progress) -> TaskRecord:
    """Validate everything first, then create the task; on any failure, undo it all."""
    if not request.task.strip():
        raise UsageError("the task description is empty; say what should be built")
    if not request.tests:
        raise UsageError(
            "no acceptance tests given; pass --tests PATH (the model path arrives with `forge build`)"
        )
    visible = _read_tests(forge, request.tests, "acceptance")
    holdout = _read_tests(forge, request.holdout, "held-out")
    if overlap := sorted(set(visible) & set(holdout)):
        raise UsageError(
            f"{overlap[0]} is given as both an acceptance and a held-out test; pick one"
        )
    store, repo = forge.store, forge.repo
    taken = set(store.slugs()) | {b.removeprefix("forge/") for b in repo.branches.local}
    slug = slug_mod.validate(request.slug) if request.slug else slug_mod.derive(request.task, taken)
    base_branch, base = resolve_branch(
        repo, request.base or forge.config.pipeline.target_branch or None
    )
    for rel in holdout:
        if blob_bytes(base.tree, rel) is not None:
            raise UsageError(
                f"held-out test {rel} is committed on {base_branch}, so the engineer could read it; keep held-out tests out of git"
            )
    forge.python  # noqa: B018 - fail on a missing interpreter before anything is created
    reserved = False
    try:
        # The lock covers only the reservation (branch, worktree, lock store), not the slow
        # red-before-green run, so other forge commands are not kept waiting.
        with forge_lock(forge.paths):
            if store.exists(slug) or repo.branches.local.get(branch_name(slug)) is not None:
                raise DuplicateSlug(
                    f"a task or branch named {slug!r} already exists; pass --slug with another name"
                )
            reserved = True
            manifest, start, worktree = _reserve(
                forge, request, slug, base_branch, base, visible, holdout, progress
            )
        _check_red(forge, request, base, worktree, {**visible, **holdout}, progress)
        record = _record(
            forge, request, slug, base_branch, base, start, worktree, manifest, visible, holdout
        )
        with forge_lock(forge.paths):
            forge.store.put(record)
        return record
    except BaseException:
        if reserved:
            discard_task(forge, slug)
        raise


def _reserve(
    forge: Forge,
    request: SpecRequest,
    slug: str,
    base_branch: str,
    base: pygit2.Commit,
    visible: dict[str, bytes],
    holdout: dict[str, bytes],
    progress: Progress,
) -> tuple[lock.Manifest, pygit2.Commit, Path]:
    """Write the lock store, the spec commit and the task's branch and worktree."""
    spec_path = f"{SPEC_DIR}/{slug}.md"
    spec = spec_markdown(request.task.strip(), sorted(visible), len(holdout)).encode()
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
        f"created branch {branch_name(slug)} from {base_branch} ({str(base.id)[:10]}) and its worktree {worktree}"
    )
    return manifest, start, worktree


def _check_red(
    forge: Forge,
    request: SpecRequest,
    base: pygit2.Commit,
    worktree: Path,
    tests: dict[str, bytes],
    progress: Progress,
) -> None:
    verdict = _red_before_green(forge, base, worktree, tests)
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


def _record(
    forge: Forge,
    request: SpecRequest,
    slug: str,
    base_branch: str,
    base: pygit2.Commit,
    start: pygit2.Commit,
    worktree: Path,
    manifest: lock.Manifest,
    visible: dict[str, bytes],
    holdout: dict[str, bytes],
) -> TaskRecord:
    now = iso(forge.clock.now())
    record = TaskRecord(
        slug=slug,
        title=request.task.strip(),
        status=SPECCED,
        base_branch=base_branch,
        base_commit=str(base.id),
        spec_commit=str(start.id),
        branch=branch_name(slug),
        worktree=str(worktree),
        lock_sha256=manifest.digest,
        locked_files=tuple(sorted(visible)),
        holdout_count=len(holdout),
        created_at=now,
        updated_at=now,
        history=(Event(at=now, status=SPECCED, note="tests locked by hand"),),
    )
    return record


def _red_before_green(
    forge: Forge, base: pygit2.Commit, worktree: Path, tests: dict[str, bytes]
) -> Verdict:
    scratch = Path(tempfile.mkdtemp(prefix="forge-spec-"))
    try:
        tree, expected = build_gate_tree(forge.repo, base, worktree, tests, scratch / "tree")
        result = forge.runner(scratch).isolated(
            tree.a, tree.ini, tree.tests, worktree, forge.config.timeouts.test_run
        )
        if result.cases is None:
            raise RedBeforeGreen(
                f"the tests could not run on the base commit ({result.died}); check the interpreter and the tests"
            )
        return judge(result.cases, expected, sorted(tests))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
