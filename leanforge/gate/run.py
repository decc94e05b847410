"""The hardened gate, all eight steps of DESIGN.md §4, on a task worktree's current state."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pygit2

from leanforge import lock
from leanforge.clock import Clock, iso, random_token
from leanforge.errors import CorruptState, LockTampered
from leanforge.gate import decide, pytestcfg, tamper, testfiles, workspace
from leanforge.gate.changes import blob_bytes, worktree_changes
from leanforge.gate.passes import PassResult, Runner, drop_bytecode, is_pytest, project_argv
from leanforge.gate.report import Check, GateReport
from leanforge.gate.scan import Finding, scan
from leanforge.git.worktree import worktree_name
from leanforge.records import TaskRecord

SPEC_DIR = ".forge/specs"
#: Flags that can explain pass A failing while pass B passes.
SUSPECT_KINDS = frozenset({"test infrastructure", "ci", "defines pytest hooks"})


@dataclass(frozen=True)
class GateSettings:
    test_command: str
    test_timeout: float
    project_timeout: float


@dataclass(frozen=True)
class GateTree:
    """The gate-owned test trees: ``a`` for the real tests, ``inverted`` for their twins."""

    root: Path
    ini: Path
    a: Path
    inverted: Path
    canary: str
    tests: tuple[str, ...]
    inverted_tests: tuple[str, ...]


def canary_source(name: str) -> str:
    return f"def {name}():\n    assert False\n"


def build_gate_tree(
    repo: pygit2.Repository,
    base: pygit2.Commit,
    worktree: Path,
    tests: Mapping[str, bytes],
    root: Path,
    patterns: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    token: Callable[[], str] = random_token,
) -> tuple[GateTree, tuple[testfiles.ExpectedTest, ...]]:
    """Lay out pass A's tree and the inverted tree under ``root``; return them and the expected tests."""
    options = workspace.base_pytest_options(
        {
            name: data
            for name in pytestcfg.CONFIG_NAMES
            if (data := blob_bytes(base.tree, name)) is not None
        }
    )
    functions, classes = patterns or workspace.test_patterns(options)
    support = workspace.base_support(repo, base, list(tests))
    # A neutral name: implementation code can't single the canary out by what it is called.
    canary = f"test_{token()}"
    expected = tuple(
        e
        for path, data in sorted(tests.items())
        for e in testfiles.expected_tests(path, data, functions, classes)
    )
    root.mkdir(parents=True, exist_ok=True)
    ini = root / "pytest.ini"
    ini.write_text(workspace.gate_ini(options, workspace.import_paths(worktree, options)))
    a, inverted = root / "a", root / "inverted"
    workspace.write_tree(a, {**support, **tests, f"{canary}.py": canary_source(canary)})
    invertible = {e.path for e in expected if e.invertible}
    twins = {
        path: testfiles.invert(path, data, functions, classes)
        for path, data in tests.items()
        if path in invertible
    }
    workspace.write_tree(inverted, {**support, **twins, f"{canary}.py": canary_source(canary)})
    tree = GateTree(
        root=root,
        ini=ini,
        a=a,
        inverted=inverted,
        canary=canary,
        tests=(*sorted(tests), f"{canary}.py"),
        inverted_tests=(*sorted(twins), f"{canary}.py"),
    )
    return tree, expected


def _lock_checks(
    record: TaskRecord, lock_dir: Path
) -> tuple[Check, dict[str, bytes], dict[str, bytes]]:
    try:
        manifest = lock.read_manifest(lock_dir, record.lock_sha256)
        acceptance = lock.read_pristine(lock_dir, manifest, [lock.ACCEPTANCE])
        holdout = lock.read_pristine(lock_dir, manifest, [lock.HOLDOUT])
    except (LockTampered, CorruptState) as exc:
        return Check("lock", False, str(exc)), {}, {}
    return (
        Check(
            "lock",
            True,
            f"manifest sha256:{manifest.digest[:12]}… verified, {len(manifest.files)} file(s)",
        ),
        acceptance,
        holdout,
    )


def run_gate(
    repo: pygit2.Repository,
    record: TaskRecord,
    lock_dir: Path,
    runner_factory: Callable[[Path], Runner],
    settings: GateSettings,
    clock: Clock,
    run_number: int,
    warnings: tuple[str, ...] = (),
    token: Callable[[], str] = random_token,
) -> GateReport:
    """Run the gate and return its report (it does not save it: the caller does)."""
    started, t0 = clock.now(), time.monotonic()
    worktree = Path(record.worktree)
    checks: list[Check] = []
    flags: list[Finding] = []
    run_warnings: list[str] = []

    def report() -> GateReport:
        return GateReport(
            slug=record.slug,
            run=run_number,
            base_commit=record.base_commit,
            executor=runner.executor.name if runner else "",
            started_at=iso(started),
            duration_s=round(time.monotonic() - t0, 3),
            checks=tuple(checks),
            flags=tuple(flags),
            warnings=tuple(dict.fromkeys([*warnings, *run_warnings])),
        )

    runner: Runner | None = None
    lock_check, acceptance, holdout = _lock_checks(record, lock_dir)
    checks.append(lock_check)
    if not lock_check.passed:
        return report()
    problem = _worktree_problem(repo, record)
    if problem:
        checks.append(Check("worktree", False, problem))
        return report()

    # Step 1: tampering, judged on the working files and on the task branch's last commit.
    branch = repo.branches.local[record.branch]
    head_tree = branch.peel(pygit2.Commit).tree
    reasons = tamper.find_tampering(
        acceptance,
        tamper.read_locked(worktree, list(acceptance)),
        {p: blob_bytes(head_tree, p) for p in acceptance},
    )
    checks.append(
        Check(
            "locked tests untouched",
            not reasons,
            "; ".join(reasons) if reasons else f"{len(acceptance)} locked file(s) pristine",
            tuple(reasons),
        )
    )
    tamper.restore(worktree, acceptance)

    base = repo[record.base_commit].peel(pygit2.Commit)
    scratch = Path(tempfile.mkdtemp(prefix="forge-gate-"))
    try:
        runner = runner_factory(scratch)
        drop_bytecode(worktree)
        project_cmd = project_argv(settings.test_command, runner.python)
        with ThreadPoolExecutor(max_workers=3) as pool:
            # The project suite needs no gate tree: start the longest run first.
            fut_project = pool.submit(
                runner.in_worktree, worktree, project_cmd, settings.project_timeout
            )
            tree, expected = build_gate_tree(
                repo, base, worktree, {**acceptance, **holdout}, scratch / "tree", token=token
            )
            exp_acc = [e for e in expected if e.path in acceptance]
            exp_hold = [e for e in expected if e.path in holdout]
            fut_a = pool.submit(
                runner.isolated, tree.a, tree.ini, tree.tests, worktree, settings.test_timeout
            )
            fut_inv = pool.submit(
                runner.isolated,
                tree.inverted,
                tree.ini,
                tree.inverted_tests,
                worktree,
                settings.test_timeout,
                tracebacks=False,
            )
            changes = [
                c
                for c in worktree_changes(worktree, base)
                if c.path not in acceptance and not c.path.startswith(SPEC_DIR + "/")
            ]
            flags = scan(changes)
            result_a, result_inv, project = _wait(fut_a), _wait(fut_inv), _wait(fut_project)

        run_warnings.extend(w for r in (result_a, result_inv, project) for w in r.run.warnings)
        pass_a = decide.judge_tests(
            "acceptance tests, pristine setup (pass A)", result_a.cases, exp_acc, died=result_a.died
        )
        # Pass B reuses the project suite's run when it covered every locked test.
        pass_b_source = project
        if not (
            is_pytest(project_cmd)
            and project.cases is not None
            and decide.reported_all(project.cases, exp_acc)
        ):
            pass_b_source = runner.in_worktree(
                worktree,
                [str(runner.python), "-m", "pytest", *sorted(acceptance)],
                settings.test_timeout,
            )
        pass_b = decide.judge_tests(
            "acceptance tests, engineer's setup (pass B)",
            pass_b_source.cases,
            exp_acc,
            died=pass_b_source.died,
        )
        suspects = sorted({f.path for f in flags if f.kind in SUSPECT_KINDS})
        checks += [
            pass_a,
            decide.judge_tests("held-out tests", result_a.cases, exp_hold, died=result_a.died),
            decide.judge_canary("canary", result_a.cases, tree.canary, tree.canary),
            decide.judge_canary(
                "canary (inverted run)", result_inv.cases, tree.canary, tree.canary
            ),
            decide.judge_inverted("inverted canary", result_inv.cases, result_a.cases, expected),
            pass_b,
            decide.judge_agreement("passes agree", pass_a, pass_b, suspects),
            decide.judge_project(
                "project test suite",
                project.run.returncode,
                project.run.timed_out,
                project.cases,
                is_pytest(project_cmd),
            ),
            Check(
                "scan",
                True,
                f"{len(flags)} finding(s) for reviewers"
                if flags
                else "no changes to test infrastructure or suspicious constructs",
            ),
        ]
    except SyntaxError as exc:
        checks.append(Check("locked tests parse", False, f"a locked test does not parse: {exc}"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report()


def _worktree_problem(repo: pygit2.Repository, record: TaskRecord) -> str:
    """Why the task's worktree can't be gated as the task's, or "" if it can.

    Its ``.git`` file must still point at forge's own admin dir for the task (a worktree
    re-pointed at a crafted git dir could show the scan a fake status), and the task branch
    must be what it has checked out.
    """
    worktree = Path(record.worktree)
    if not (worktree / ".git").is_file():
        return f"the task worktree {worktree} is missing or broken; re-spec the task"
    admin = (Path(repo.path) / "worktrees" / worktree_name(record.slug)).resolve()
    try:
        wt_repo = pygit2.Repository(str(worktree))
    except pygit2.GitError:
        return f"the task worktree {worktree} is not a git worktree any more; re-spec the task"
    if Path(wt_repo.path).resolve() != admin:
        return f"the worktree's .git no longer points at {admin}; restore it or re-spec the task"
    if repo.branches.local.get(record.branch) is None:
        return f"branch {record.branch} is missing; re-spec the task"
    if wt_repo.head_is_detached or wt_repo.head.name != f"refs/heads/{record.branch}":
        return f"branch {record.branch} is not checked out in the worktree ({wt_repo.head.shorthand}); check it out again in {worktree}"
    return ""


def _wait(future: Future[PassResult]) -> PassResult:
    return future.result()
