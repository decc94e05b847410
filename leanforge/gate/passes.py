"""How each gate pass is run: argv, environment, mounts. Shared by the gate and by red-before-green."""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leanforge.gate import junit, pytestcfg
from leanforge.sandbox.base import Executor, Mount, RunRequest, RunResult, scrub_env

PYTEST_FLAGS = ("-p", "no:cacheprovider", "-q", "--tb=short", "-o", "junit_family=xunit2")


@dataclass(frozen=True)
class PassResult:
    run: RunResult
    cases: tuple[junit.Case, ...] | None

    @property
    def died(self) -> str:
        """One line on how the run ended, for a report whose junit is missing."""
        if self.run.timed_out:
            return "timed out"
        tail = (self.run.stderr.strip() or self.run.stdout.strip()).splitlines()
        return f"exit code {self.run.returncode}" + (
            f", last output: {tail[-1][:160]}" if tail else ""
        )


@dataclass(frozen=True)
class Runner:
    """What every pass shares: the interpreter, the executor and the environment to scrub."""

    python: Path
    executor: Executor
    scratch_root: Path
    source_env: Mapping[str, str]
    passthrough: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()
    output_limit: int = 1_000_000

    def _run(
        self,
        argv: Sequence[str],
        cwd: Path,
        mounts: Sequence[Mount],
        timeout: float,
        scratch: Path,
        *,
        autoload: bool,
    ) -> PassResult:
        # No run writes bytecode; the gate deletes the worktree's before running (drop_bytecode).
        extra = {"HOME": str(scratch), "TMPDIR": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}
        if not autoload:
            extra["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        request = RunRequest(
            argv=tuple(argv),
            cwd=cwd,
            env=scrub_env(self.source_env, passthrough=self.passthrough, extra=extra),
            timeout=timeout,
            mounts=(*mounts, Mount(scratch, writable=True)),
            output_limit=self.output_limit,
        )
        result = self.executor.run(request)
        return PassResult(run=result, cases=junit.read(scratch / "junit.xml"))

    def isolated(
        self,
        tree: Path,
        ini: Path,
        tests: Sequence[str],
        worktree: Path,
        timeout: float,
        *,
        tracebacks: bool = True,
    ) -> PassResult:
        """Pass A style: pristine tree outside the worktree, gate-owned config, ``python -I``.

        ``tracebacks=False`` skips formatting failures and assertion introspection, for runs
        where every test is meant to fail and only the outcomes matter (the inverted twins):
        that is most of their cost.
        """
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch_root))
        argv = [
            str(self.python),
            "-I",
            "-B",
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(tree),
            "--confcutdir",
            str(tree),
            *[arg for plugin in self.plugins for arg in ("-p", plugin)],
            *PYTEST_FLAGS,
            *([] if tracebacks else ["--tb=no", "--assert=plain"]),
            # One locked file failing to import must not hide the others' results.
            "--continue-on-collection-errors",
            "--junitxml",
            str(scratch / "junit.xml"),
            *tests,
        ]
        mounts = [Mount(ini.parent), Mount(worktree)]
        return self._run(argv, tree, mounts, timeout, scratch, autoload=False)

    def in_worktree(self, worktree: Path, argv: Sequence[str], timeout: float) -> PassResult:
        """Pass B / project-suite style: in the worktree, read-only, with its own config."""
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch_root))
        full = list(argv)
        if is_pytest(full):
            full[1:1] = ["-B"] if _is_python_m(full) else []
            if not {"-c", "--config-file"} & set(full):
                full += ["-c", str(worktree_inifile(worktree) or _empty_ini(scratch))]
            full += [
                "--rootdir",
                str(worktree),
                "--confcutdir",
                str(worktree),
                # An xpass must fail here too; the project's own config could make it pass.
                "-o",
                "xfail_strict=true",
                *PYTEST_FLAGS,
                "--junitxml",
                str(scratch / "junit.xml"),
            ]
        return self._run(full, worktree, [Mount(worktree)], timeout, scratch, autoload=True)


def drop_bytecode(worktree: Path) -> int:
    """Delete compiled bytecode under the worktree so no planted .pyc can stand in for source.

    Runs then use -B, and the worktree is read-only inside the sandbox, so none comes back.
    The interpreter's own (read-only) bytecode is trusted, which keeps pytest's start fast.
    """
    removed = 0
    for dirpath, dirnames, filenames in os.walk(worktree):
        if ".git" in dirnames and Path(dirpath) == worktree:
            dirnames.remove(".git")
        if Path(dirpath).name == "__pycache__":
            shutil.rmtree(dirpath, ignore_errors=True)
            dirnames.clear()
            removed += 1
            continue
        for name in filenames:
            if name.endswith((".pyc", ".pyo")):
                Path(dirpath, name).unlink(missing_ok=True)
                removed += 1
    return removed


def _is_python_m(argv: Sequence[str]) -> bool:
    return len(argv) >= 3 and argv[1] == "-m" and argv[2] == "pytest"


def is_pytest(argv: Sequence[str]) -> bool:
    """Is this command pytest itself (so the gate can read its junit)?"""
    return bool(argv) and (_is_python_m(argv) or Path(argv[0]).name in ("pytest", "py.test"))


def project_argv(command: str, python: Path) -> list[str]:
    return [part.replace("{python}", str(python)) for part in shlex.split(command)]


def _empty_ini(scratch: Path) -> Path:
    path = scratch / "empty-pytest.ini"
    path.write_text("[pytest]\n")
    return path


def worktree_inifile(worktree: Path) -> Path | None:
    """The worktree's root pytest config, found in pytest's order, never above the worktree."""
    files = {
        name: (worktree / name).read_text(encoding="utf-8", errors="replace")
        for name in pytestcfg.CONFIG_NAMES
        if (worktree / name).is_file()
    }
    found = pytestcfg.first_config(files)
    return worktree / found[0] if found else None
