"""Benchmark: forge's own time per build attempt, model and project tests excluded, at 20,000 files.

Each run generates a repository with the `git` CLI (``--files`` one-line modules in nested
folders, a wrong ``calc.py``), locks its test with ``forge spec --tests`` (not timed), then
times ``open_forge`` + ``build_one`` in this process for one attempt that merges (engineer
edit, gate, 3 reviewers, merge, tech-lead playbook), the real SDK talking to forge's local
Messages server with zero-latency replies. Overhead = wall time minus the time covered by
model calls (a proxy around the model ``session.make_model`` returns: forge has no model seam)
or by the gate's sandboxed runs (a proxy given as ``Forge.executor_override``); overlapping
spans count once. The same attempt on a ``--baseline``-file repository is the baseline; an
untimed one runs first. Goal: overhead <= 2 s at 20,000 files. docs/benchmarks.md says what
counts where.

    python bench/attempt_overhead.py [--files 20000] [--baseline 10] [--repeat 3]
                                     [--dir /dev/shm] [--profile] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from _shared import forge_ok, git

from leanforge.agent import session
from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use
from leanforge.agent.model import Model, ModelRequest
from leanforge.agent.model import Reply as ModelReply
from leanforge.context import open_forge
from leanforge.pipeline.build import build_one
from leanforge.pipeline.job import BuildOptions
from leanforge.pipeline.progress import SilentReporter
from leanforge.sandbox.base import Executor, RunRequest, RunResult
from leanforge.sandbox.factory import layout_for, make_executor

GOAL_S = 2.0
SLUG = "fix-add"
GATE_STAGES = ("gate", "re-gate")
EDITOR = "str_replace_based_edit_tool"
FAKE_ENV = {"ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
CONFIG = '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'
WRONG, RIGHT = "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
Span = tuple[float, float]


class Timeline(SilentReporter):
    """Spans of model calls, gate runs and tool runs; a Reporter noting when each stage began."""

    def __init__(self) -> None:
        self.model: list[Span] = []
        self.tests: list[Span] = []
        self.tools: list[Span] = []
        self.stages: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        with self.lock:
            self.stages.append((time.perf_counter(), stage))

    @contextlib.contextmanager
    def span(self, spans: list[Span]) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            with self.lock:
                spans.append((began, time.perf_counter()))


class TimedModel:
    def __init__(self, inner: Model, line: Timeline) -> None:
        self.inner, self.line, self.backend = inner, line, inner.backend

    def complete(self, request: ModelRequest) -> ModelReply:
        with self.line.span(self.line.model):
            return self.inner.complete(request)


class TimedExecutor:
    def __init__(self, inner: Executor, line: Timeline) -> None:
        self.inner, self.line, self.name = inner, line, inner.name

    def run(self, request: RunRequest) -> RunResult:
        gate = bool(self.line.stages) and self.line.stages[-1][1] in GATE_STAGES
        with self.line.span(self.line.tests if gate else self.line.tools):
            return self.inner.run(request)


def covered(spans: list[Span], start: float = 0.0, end: float = float("inf")) -> float:
    """Seconds of [start, end) inside at least one span."""
    total, reach = 0.0, start
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, end)
        if b > a:
            total, reach = total + b - a, b
    return total


def make_project(where: Path | None, files: int, env: dict[str, str]) -> Path:
    """``files`` small modules in d00/s0/f0000.py style folders, a wrong calc.py, a locked test."""
    root = Path(tempfile.mkdtemp(prefix="forge-bench-attempt-", dir=where))
    git(root, "init", "-q", "-b", "main")
    extra = {".forge/config.toml": CONFIG, ".gitignore": "__pycache__/\n", "calc.py": WRONG}
    blobs = [(p, body.encode()) for p, body in extra.items()]
    for i in range(files):
        top, sub = divmod(i // 100, 10)
        blobs.append((f"d{top:02d}/s{sub}/f{i % 100:04d}.py", f"VALUE_{i} = {i}\n".encode()))
    stream = [
        b"commit refs/heads/main\ncommitter B <b@example.com> 1700000000 +0000\ndata 4\nbase\n"
    ]
    for path, body in blobs:
        stream.append(f"M 100644 inline {path}\ndata {len(body)}\n".encode() + body + b"\n")
    git(root, "fast-import", "--quiet", "--done", stdin=b"".join([*stream, b"done\n"]))
    git(root, "reset", "-q", "--hard", "main")
    (root / "tests").mkdir()
    (root / "tests/test_calc.py").write_text(TEST)
    forge_ok(root, env, "spec", "make add add", "--tests", "tests/test_calc.py", "--slug", SLUG)
    return root


def script(server: MessagesServer) -> None:
    def engineer(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            edit = {"command": "create", "path": "calc.py", "file_text": RIGHT}
            return reply([tool_use(EDITOR, edit)])
        return reply([tool_use("submit_work", {"summary": "add adds"})])

    verdict = {"approve": True, "blockers": [], "notes": "calc.py adds"}
    server.route("engineer", *[engineer] * 4)
    server.route("reviewer", *[reply([tool_use("submit_verdict", verdict)])] * 6)
    playbook = {"playbook": "# playbook\n\n- add must add\n"}
    server.route("tech_lead", reply([tool_use("submit_playbook", playbook)]))


def run_once(where: Path | None, files: int, profile: cProfile.Profile | None = None) -> Any:
    with MessagesServer() as server:
        env = {**os.environ, **FAKE_ENV, "ANTHROPIC_BASE_URL": server.url}
        root = make_project(where, files, env)
        script(server)
        line = Timeline()
        real_make_model = session.make_model
        session.make_model = lambda forge: TimedModel(real_make_model(forge), line)
        try:
            with profile or contextlib.nullcontext():
                began = time.perf_counter()
                forge = open_forge(root, env=env, warn=lambda m: None)
                real = make_executor(
                    forge.config.sandbox.mode, layout_for(forge.paths, forge.python), forge.warn
                )
                forge.executor_override = TimedExecutor(real, line)
                result = build_one(forge, SLUG, BuildOptions(reviewers=3), line)
                ended = time.perf_counter()
        finally:
            session.make_model = real_make_model
    if result.outcome != "merged" or result.record.attempts != 1:
        raise SystemExit(f"no merge: {result.record.failure} (repository kept: {root})")
    shutil.rmtree(root, ignore_errors=True)
    return summarize(line, began, ended, real.name)


def summarize(line: Timeline, began: float, ended: float, executor: str) -> dict[str, Any]:
    """Seconds of wall time, model, gate runs, tool runs and overhead, and overhead per stage."""
    gone = line.model + line.tests
    bounds = [(began, "start"), *line.stages, (ended, "end")]
    phases: dict[str, float] = {}
    for (a, name), (b, _) in itertools.pairwise(bounds):
        phases[name] = phases.get(name, 0.0) + (b - a) - covered(gone, a, b)
    spans = {"model": line.model, "tests": line.tests, "tools": line.tools}
    out = {key: covered(value, began, ended) for key, value in spans.items()}
    wall = ended - began
    overhead = wall - covered(gone, began, ended)
    return {**out, "wall": wall, "overhead": overhead, "phases": phases, "executor": executor}


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: Iterable[float]) -> float:
        return round(statistics.median(values), 3)

    out = {k: median(r[k] for r in runs) for k in ("wall", "model", "tests", "tools", "overhead")}
    names = dict.fromkeys(n for r in runs for n in r["phases"])
    return {
        **out,
        "overhead_runs": [round(r["overhead"], 3) for r in runs],
        "phases": {n: median(r["phases"].get(n, 0.0) for r in runs) for n in names},
    }


ROWS = (
    ("attempt wall time", "wall"),
    ("  inside model calls", "model"),
    ("  inside the gate's sandboxed runs", "tests"),
    ("  (editor tool runs, kept in)", "tools"),
    ("forge overhead", "overhead"),
)


def table(result: dict[str, Any]) -> str:
    small, big = result["small"], result["large"]
    lines = [
        f"one attempt that merges, zero-latency replies, {result['repeat']} run(s) each, "
        f"{result['cpus']} cpus, sandbox {result['executor']} (medians, seconds)",
        f"{'':<36}{result['baseline_files']:>8,} files{result['files']:>8,} files",
    ]
    lines += [f"{label:<36}{small[k]:>14.3f}{big[k]:>14.3f}" for label, k in ROWS]
    lines.append("overhead by stage:")
    for name, value in big["phases"].items():
        lines.append(f"  {name:<34}{small['phases'].get(name, 0.0):>14.3f}{value:>14.3f}")
    lines.append(
        f"(not counted: the process's first attempt, {result['baseline_files']:,} files, "
        f"an untimed warm-up: overhead {result['first_attempt_overhead']:.3f})"
    )
    verdict = "met" if result["goal_met"] else "NOT met"
    lines.append(
        f"ratio large/small {result['ratio']:.2f}x; goal overhead <= {GOAL_S} s at "
        f"{result['files']:,} files: {verdict}"
    )
    return "\n".join(lines)


def profile_text(where: Path | None, files: int, top: int) -> str:
    """One more large run under cProfile, every thread; the top entries by cumulative time."""
    profiles = [cProfile.Profile()]

    def per_thread(*_: Any) -> None:  # a thread's first event starts that thread's profile
        sys.setprofile(None)
        name = threading.current_thread().name
        if "serve_forever" in name or "process_request" in name:
            return  # the fake server's side of a model call
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    threading.setprofile(per_thread)
    try:
        run_once(where, files, profiles[0])
    finally:
        threading.setprofile(None)
    out = io.StringIO()
    stats = pstats.Stats(*profiles, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top // 2)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=20_000, help="files in the large repository")
    parser.add_argument("--baseline", type=int, default=10, help="files in the baseline one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each size")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the repositories")
    parser.add_argument("--profile", action="store_true", help="also profile one large run")
    parser.add_argument("--quick", action="store_true", help="one run of each size (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    # One-time costs (lazy imports, the SDK's first call) land on the first attempt of a process.
    first = run_once(args.dir, args.baseline)
    runs: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    sizes = {"small": args.baseline, "large": args.files}
    for i in range(args.repeat):
        for key in ("small", "large") if i % 2 == 0 else ("large", "small"):
            runs[key].append(run_once(args.dir, sizes[key]))
    result: dict[str, Any] = {"files": args.files, "baseline_files": args.baseline}
    result.update(small=medians(runs["small"]), large=medians(runs["large"]))
    result.update(
        ratio=round(result["large"]["overhead"] / result["small"]["overhead"], 2),
        first_attempt_overhead=round(first["overhead"], 3),
        goal_s=GOAL_S,
        goal_met=result["large"]["overhead"] <= GOAL_S,
        repeat=args.repeat,
        executor=runs["large"][0]["executor"],
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
    )
    if args.profile:
        print(profile_text(args.dir, args.files, 40))
    print(table(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
