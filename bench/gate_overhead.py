"""Benchmark: `forge gate` wall time against plain `python -m pytest` on a real project's suite.

Downloads the sdist of a pinned, pure-Python project whose tests need nothing beyond pytest
(validators 0.28.3: 741 tests in 24 files, plain asserts, no skips or xfails) into ``--cache``,
unpacks it into a temp dir, commits the project without its test files as the base, locks every
test file with ``forge spec "benchmark" --tests ... --allow-passing --slug bench --json``, then
times, ``--repeat`` times each and alternating which goes first:

  gate   ``forge gate bench --json`` (cwd: the repository)
  plain  ``python -m pytest -q -p no:cacheprovider <the same test files>`` (cwd: the task worktree)

after one untimed warm-up of each. Reports the medians of wall time and of CPU time (user + sys
of the child processes, which contention from other programs barely moves), their ratio
gate/plain (the goal is <= 1.2x), the gate's own in-process duration and the sandbox it used.
``--breakdown`` also times, alone and ``--repeat`` times, each step of the gate (forge start-up,
the interpreter check, building the gate's test trees, pass A, the inverted twins, the project
suite that doubles as pass B), a what-if variant of the inverted run, and plain pytest both with
no bytecode written (as every gate run works) and with a warm bytecode cache.

No ``.forge/config.toml`` is written: forge runs on its defaults, except that ``FORGE_PYTHON``
names the interpreter (``--python``, default this one) so gate and plain run the same Python,
and ``FORGE_SANDBOX`` comes from ``--sandbox``. Under bwrap the gate's CPU time cannot be
measured (its pid namespace hides the runs from getrusage); ``--sandbox none`` measures it.
The plain runs inherit the caller's environment minus ``PYTEST_ADDOPTS`` and ``PYTHONPATH``,
bytecode settings included; where bytecode may be written they keep it in a bench-owned
``PYTHONPYCACHEPREFIX``, out of the worktree the gate inspects. Needs git on PATH, PyPI on the
first run (or a filled ``--cache``) and leanforge installed (``python -m pip install -e .``).

    python bench/gate_overhead.py [--repeat 3] [--cache DIR] [--dir /dev/shm] [--breakdown]
                                  [--sandbox auto|bwrap|none] [--python PATH] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

PROJECT = "validators"
VERSION = "0.28.3"
MIN_TESTS = 300
SLUG = "bench"
GOAL = 1.2
#: The plain run, as the task asks for it (the interpreter is prepended).
PLAIN_ARGS = ("-m", "pytest", "-q", "-p", "no:cacheprovider")
TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")


class BenchError(Exception):
    """A step failed; the message says which and why."""


@dataclass
class Sample:
    wall: float
    cpu: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Setup:
    python: Path
    forge: list[str]
    env: dict[str, str]
    repo: Path
    worktree: Path
    tests: list[str]
    pycache: Path


def _run(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], Sample]:
    """Run ``argv`` to completion; return it with its wall time and its children's CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, Sample(wall=wall, cpu=cpu)


def _git(repo: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    proc = subprocess.run(
        ["git", "-C", str(repo), *ident, "-c", "commit.gpgsign=false", *args],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def fetch_sdist(cache: Path, python: Path) -> Path:
    """The pinned sdist, downloaded into ``cache`` with pip unless it is already there."""
    cache.mkdir(parents=True, exist_ok=True)
    names = (f"{PROJECT}-{VERSION}.tar.gz", f"{PROJECT.replace('-', '_')}-{VERSION}.tar.gz")
    for name in names:
        if (cache / name).is_file():
            return cache / name
    argv = [str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
    proc = subprocess.run(
        [*argv, f"{PROJECT}=={VERSION}", "--dest", str(cache)], capture_output=True, text=True
    )
    for name in names:
        if (cache / name).is_file():
            return cache / name
    raise BenchError(f"pip could not download {PROJECT}=={VERSION}: {proc.stderr.strip()[-500:]}")


def unpack(sdist: Path, dest: Path) -> Path:
    """Extract the sdist (owned by us, whatever the archive says) and return its top folder."""
    with tarfile.open(sdist) as archive:
        archive.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise BenchError(f"{sdist.name} does not unpack into a single folder")
    return tops[0]


def find_tests(root: Path) -> list[str]:
    """The test files under ``tests/`` (or ``test/``), as repo-relative POSIX paths."""
    found = []
    for folder in ("tests", "test"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if TEST_FILE.search(rel):
                found.append(rel)
    if not found:
        raise BenchError(f"{PROJECT} {VERSION} ships no test files in its sdist")
    return found


def make_repo(root: Path, tests: list[str]) -> None:
    """One commit holding the project without its test files (conftest, helpers, data stay)."""
    # A .python-version in an sdist would steer a pyenv shim to another interpreter.
    (root / ".python-version").unlink(missing_ok=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "rm", "-q", "--cached", "--", *tests)
    _git(root, "commit", "-q", "-m", f"{PROJECT} {VERSION} without its tests")


def forge_command(python: Path) -> list[str]:
    found = shutil.which("forge")
    return [found] if found else [str(python), "-m", "leanforge"]


def spec(setup: Setup) -> Path:
    argv = [*setup.forge, "spec", "benchmark"]
    for test in setup.tests:
        argv += ["--tests", test]
    proc, _ = _run([*argv, "--allow-passing", "--slug", SLUG, "--json"], setup.repo, setup.env)
    if proc.returncode != 0:
        raise BenchError(f"forge spec failed: {(proc.stderr or proc.stdout).strip()[-1500:]}")
    return Path(json.loads(proc.stdout)["worktree"])


def run_gate(setup: Setup) -> Sample:
    proc, sample = _run([*setup.forge, "gate", SLUG, "--json"], setup.repo, setup.env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise BenchError(
            f"forge gate printed no report (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-1500:]}"
        ) from None
    if not report.get("passed"):
        failed = [
            f"{c['name']}: {c['detail']}" + "".join(f"\n      - {i}" for i in c["items"][:5])
            for c in report["checks"]
            if not c["passed"]
        ]
        raise BenchError("the gate FAILED on an honest project:\n  " + "\n  ".join(failed))
    sample.extra = {
        "duration_s": report["duration_s"],
        "executor": report["executor"],
        "checks": [{"name": c["name"], "detail": c["detail"]} for c in report["checks"]],
        "warnings": report.get("warnings", []),
    }
    return sample


def plain_env(setup: Setup) -> dict[str, str]:
    """The caller's environment, minus what would change which tests run.

    Bytecode follows that environment: with PYTHONDONTWRITEBYTECODE set, as on this machine,
    every plain run compiles the project, its tests and the plugins' rewritten modules afresh,
    as every gate run does. Otherwise the plain runs keep warm bytecode in the bench's own
    PYTHONPYCACHEPREFIX, out of the worktree the gate inspects.
    """
    env = {k: v for k, v in setup.env.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    if not env.get("PYTHONDONTWRITEBYTECODE"):
        env["PYTHONPYCACHEPREFIX"] = str(setup.pycache)
    return env


def run_plain(setup: Setup, env: dict[str, str] | None = None) -> Sample:
    argv = [str(setup.python), *PLAIN_ARGS, *setup.tests]
    proc, sample = _run(argv, setup.worktree, env or plain_env(setup))
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0:
        raise BenchError(f"plain pytest failed (exit {proc.returncode}): {summary}")
    passed = re.search(r"(\d+) passed", summary)
    sample.extra = {"passed": int(passed.group(1)) if passed else 0, "summary": summary}
    return sample


def measure(setup: Setup, repeat: int) -> dict[str, list[Sample]]:
    samples: dict[str, list[Sample]] = {"gate": [], "plain": []}
    runs = {"gate": run_gate, "plain": run_plain}
    for way in ("gate", "plain"):  # warm-up, untimed: disk cache, the plain bytecode
        runs[way](setup)
    for index in range(repeat):
        for way in ("gate", "plain") if index % 2 == 0 else ("plain", "gate"):
            samples[way].append(runs[way](setup))
    return samples


class _ExtraArgs:
    """An executor proxy that adds pytest options to every run: the what-if variants."""

    def __init__(self, inner: Any, extra: Sequence[str]) -> None:
        self.inner, self.extra, self.name = inner, tuple(extra), inner.name

    def run(self, request: Any) -> Any:
        argv = list(request.argv)
        at = argv.index("--junitxml") if "--junitxml" in argv else len(argv)
        return self.inner.run(replace(request, argv=(*argv[:at], *self.extra, *argv[at:])))


def breakdown(setup: Setup, repeat: int) -> dict[str, float]:
    """Median wall time of each run the gate makes, run alone with the gate's own argv,
    sandbox and environment; then what-if variants and the plain run without bytecode."""
    import pygit2

    from leanforge.context import open_forge
    from leanforge.gate.passes import Runner, project_argv
    from leanforge.gate.run import build_gate_tree

    forge = open_forge(setup.repo, env=setup.env)
    record = forge.store.get(SLUG)
    base = forge.repo[record.base_commit].peel(pygit2.Commit)
    tests = {p: (setup.worktree / p).read_bytes() for p in record.locked_files}
    timeout = forge.config.timeouts.test_run
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="forge-bench-gate-") as tmp:
        scratch = Path(tmp)
        runner = forge.runner(scratch)
        lean = replace(runner, executor=_ExtraArgs(runner.executor, ("--tb=no", "--assert=plain")))
        project = project_argv(forge.config.gate.test_command, runner.python)
        warm = plain_env(setup) | {"PYTHONPYCACHEPREFIX": str(setup.pycache)}
        warm.pop("PYTHONDONTWRITEBYTECODE", None)
        cold = plain_env(setup) | {"PYTHONDONTWRITEBYTECODE": "1"}
        cold.pop("PYTHONPYCACHEPREFIX", None)
        run_plain(setup, env=warm)  # fills the warm cache

        def tree_build() -> Any:
            return build_gate_tree(forge.repo, base, setup.worktree, tests, scratch / "tree")[0]

        tree = tree_build()

        def isolated(run: Runner, which: str) -> Callable[[], object]:
            folder, files = (
                (tree.a, tree.tests) if which == "a" else (tree.inverted, tree.inverted_tests)
            )
            return lambda: run.isolated(folder, tree.ini, files, setup.worktree, timeout)

        steps: dict[str, Callable[[], object]] = {
            "forge start-up (forge --version)": lambda: _run(
                [*setup.forge, "--version"], setup.repo, setup.env
            ),
            "interpreter check (python -I -c 'import pytest')": lambda: _run(
                [str(setup.python), "-I", "-c", "import pytest"], setup.repo, setup.env
            ),
            "build the gate's test trees": tree_build,
            "pass A (pristine copy, python -I)": isolated(runner, "a"),
            "inverted twins": isolated(runner, "inverted"),
            "project suite (= pass B)": lambda: runner.in_worktree(
                setup.worktree, project, forge.config.timeouts.project_suite
            ),
            "what-if: inverted twins, --tb=no --assert=plain": isolated(lean, "inverted"),
            "plain pytest, no bytecode written (as the gate runs)": lambda: run_plain(
                setup, env=cold
            ),
            "plain pytest, warm bytecode cache": lambda: run_plain(setup, env=warm),
        }
        for _ in range(repeat):
            for name, step in steps.items():
                began = time.perf_counter()
                step()
                times.setdefault(name, []).append(time.perf_counter() - began)
    return {name: statistics.median(runs) for name, runs in times.items()}


def summarize(
    setup: Setup, samples: dict[str, list[Sample]], extra: dict[str, Any]
) -> dict[str, Any]:
    gate, plain = samples["gate"], samples["plain"]
    wall = {way: statistics.median(s.wall for s in runs) for way, runs in samples.items()}
    executor = gate[0].extra["executor"]
    # bwrap's pid namespace hides the sandboxed processes from getrusage(RUSAGE_CHILDREN).
    cpu_known = executor != "bwrap"
    cpu = {way: statistics.median(s.cpu for s in runs) for way, runs in samples.items()}
    return {
        "project": f"{PROJECT} {VERSION}",
        "tests": plain[0].extra["passed"],
        "test_files": len(setup.tests),
        "repeat": len(gate),
        "sandbox": executor,
        "gate_warnings": sorted({w for s in gate for w in s.extra["warnings"]}),
        "python": f"{platform.python_version()} ({setup.python})",
        "pytest": extra["pytest"],
        "cpus": os.cpu_count(),
        "config": ".forge/config.toml not used; environment FORGE_PYTHON=<the interpreter>, "
        f"FORGE_SANDBOX={extra['sandbox_mode']}",
        "gate_wall_s": [round(s.wall, 3) for s in gate],
        "plain_wall_s": [round(s.wall, 3) for s in plain],
        "gate_median_wall_s": round(wall["gate"], 3),
        "plain_median_wall_s": round(wall["plain"], 3),
        "ratio_wall": round(wall["gate"] / wall["plain"], 3),
        "goal_ratio": GOAL,
        "gate_cpu_s": [round(s.cpu, 3) for s in gate] if cpu_known else None,
        "plain_cpu_s": [round(s.cpu, 3) for s in plain],
        "gate_median_cpu_s": round(cpu["gate"], 3) if cpu_known else None,
        "plain_median_cpu_s": round(cpu["plain"], 3),
        "ratio_cpu": round(cpu["gate"] / cpu["plain"], 3) if cpu_known else None,
        "gate_in_process_median_s": statistics.median(s.extra["duration_s"] for s in gate),
        "per_check_durations": None,
        "checks": gate[0].extra["checks"],
        "load_average": extra["load"],
        "breakdown_median_wall_s": extra.get("breakdown"),
    }


def _cell(value: float | None, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:.2f}{suffix}"


def format_table(r: dict[str, Any]) -> str:
    lines = [
        f"{r['project']}: {r['tests']} tests in {r['test_files']} files; sandbox {r['sandbox']}; "
        f"Python {r['python']}, pytest {r['pytest']}, {r['cpus']} cpus",
        f"config: {r['config']}",
        f"load average (1 min) before / after: {r['load_average'][0]} / {r['load_average'][1]}",
        f"{'':<18}{'median wall s':>14}{'median cpu s':>14}  wall s per run",
    ]
    for way, label in (("plain", "plain pytest"), ("gate", "forge gate")):
        runs = " ".join(f"{v:.2f}" for v in r[f"{way}_wall_s"])
        wall, cpu = r[f"{way}_median_wall_s"], r[f"{way}_median_cpu_s"]
        lines.append(f"{label:<18}{_cell(wall):>14}{_cell(cpu):>14}  {runs}")
    verdict = "met" if r["ratio_wall"] <= r["goal_ratio"] else "not met"
    lines.append(
        f"{'ratio gate/plain':<18}{_cell(r['ratio_wall'], 'x'):>14}{_cell(r['ratio_cpu'], 'x'):>14}"
        f"  goal <= {r['goal_ratio']:.1f}x wall: {verdict}"
    )
    if r["gate_median_cpu_s"] is None:
        lines.append(
            "  (gate cpu: n/a under bwrap, its pid namespace hides the runs from getrusage)"
        )
    lines.append(
        f"gate's own duration_s (in process, median): {r['gate_in_process_median_s']:.2f} s; "
        "per-check durations: not reported by forge"
    )
    if r["breakdown_median_wall_s"]:
        lines.append("breakdown, each step alone, median wall s:")
        lines += [f"  {k:<52}{v:>7.2f}" for k, v in r["breakdown_median_wall_s"].items()]
    lines += [f"gate warning: {w}" for w in r["gate_warnings"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument(
        "--cache", type=Path, default=None, help="where the sdist is kept (default: a temp dir)"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to build the repository (default: $TMPDIR)"
    )
    parser.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="interpreter for both the gate (FORGE_PYTHON) and plain pytest (default: this one)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also time each of the gate's runs alone"
    )
    parser.add_argument(
        "--sandbox",
        choices=("auto", "bwrap", "none"),
        default="auto",
        help="forge's sandbox.mode, via FORGE_SANDBOX (default auto: bwrap if it works); "
        "with none the gate's CPU time can be measured too",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp repository")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        parser.error("git is not on PATH")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    tmp = Path(tempfile.mkdtemp(prefix="forge-bench-gate-", dir=args.dir))
    try:
        python = args.python.absolute()
        sdist = fetch_sdist(args.cache or tmp / "cache", python)
        root = unpack(sdist, tmp / "src")
        tests = find_tests(root)
        make_repo(root, tests)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
        env["FORGE_PYTHON"] = str(python)
        env["FORGE_SANDBOX"] = args.sandbox
        setup = Setup(python, forge_command(python), env, root, root, tests, tmp / "pycache")
        setup.worktree = spec(setup)
        version = subprocess.run(
            [str(python), "-c", "import pytest; print(pytest.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        load_before = round(os.getloadavg()[0], 2)
        samples = measure(setup, args.repeat)
        extra: dict[str, Any] = {"pytest": version, "sandbox_mode": args.sandbox}
        if args.breakdown:
            found = breakdown(setup, args.repeat)
            extra["breakdown"] = {k: round(v, 3) for k, v in found.items()}
        extra["load"] = (load_before, round(os.getloadavg()[0], 2))
        if samples["plain"][0].extra["passed"] < MIN_TESTS:
            raise BenchError(
                f"only {samples['plain'][0].extra['passed']} tests ran; need {MIN_TESTS}"
            )
        result = summarize(setup, samples, extra)
    except BenchError as exc:
        print(f"gate_overhead: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
