"""Benchmark: the review stage of `forge build` with a panel of 5 reviewers against 1.

Every reply of forge's local Messages server (leanforge.agent.fake_server) is delayed by
``--delay`` seconds (default 1), outside the server's lock, so requests made at the same time
overlap. Each run builds a fresh repository with the `git` CLI, locks its test with
``forge spec --tests``, then runs ``build_one`` in this process: the real pipeline, the real SDK
adapter (through ANTHROPIC_BASE_URL), the real sandbox. The engineer writes the fix with the
editor tool and submits; each reviewer views the changed file, then approves (``--turns`` model
calls per reviewer); the tech-lead rewrites the playbook.

Measured: the review stage's wall time, from the reporter's "review" event to its "merge"
event (rendering the prompt and diff, the parallel sessions, saving the verdicts); nothing is
subtracted. The whole build's wall time is shown for context. Each panel size runs
``--repeat`` times, alternating which goes first; medians are compared. Goal: N=5 / N=1 <= 1.3.

    python bench/panel.py [--repeat 3] [--delay 1.0] [--turns 2] [--dir /dev/shm] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _shared import forge_ok, git

from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use
from leanforge.context import open_forge
from leanforge.pipeline.build import build_one
from leanforge.pipeline.job import BuildOptions
from leanforge.pipeline.progress import SilentReporter

GOAL = 1.3
SLUG = "fix-add"
EDITOR = "str_replace_based_edit_tool"
FAKE_ENV = {"ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
CONFIG = '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'
WRONG = "def add(a, b):\n    return a - b\n"
RIGHT = "def add(a, b):\n    return a + b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
PLAYBOOK = "# playbook\n\n- add must add\n"


class StageClock(SilentReporter):
    """A Reporter that timestamps every stage a task enters."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def stage(self, slug: str, stage: str, attempt: int, of: int) -> None:
        with self._lock:
            self.events.append((time.perf_counter(), stage))

    def between(self, first: str, then: str) -> float:
        start = next(t for t, s in self.events if s == first)
        return next(t for t, s in self.events if s == then and t >= start) - start


def make_project(where: Path | None, env: dict[str, str]) -> Path:
    """A repository with a wrong `add`, and its test locked as task fix-add."""
    root = Path(tempfile.mkdtemp(prefix="forge-bench-panel-", dir=where))
    git(root, "init", "-q", "-b", "main")
    (root / ".forge").mkdir()
    (root / ".forge/config.toml").write_text(CONFIG)
    (root / ".gitignore").write_text("__pycache__/\n")
    (root / "calc.py").write_text(WRONG)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    (root / "tests").mkdir()
    (root / "tests/test_calc.py").write_text(TEST)
    forge_ok(root, env, "spec", "make add add", "--tests", "tests/test_calc.py", "--slug", SLUG)
    return root


def script(server: MessagesServer, delay: float, turns: int) -> None:
    """Route every role's sessions; each reply arrives ``delay`` seconds late."""

    def engineer(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            edit = {"command": "create", "path": "calc.py", "file_text": RIGHT}
            return reply([tool_use(EDITOR, edit)], delay=delay)
        return reply([tool_use("submit_work", {"summary": "add adds"})], delay=delay)

    def reviewer(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) < 2 * turns - 1:
            return reply([tool_use(EDITOR, {"command": "view", "path": "calc.py"})], delay=delay)
        verdict = {"approve": True, "blockers": [], "notes": "calc.py adds"}
        return reply([tool_use("submit_verdict", verdict)], delay=delay)

    def tech_lead(body: dict[str, Any]) -> Reply:
        return reply([tool_use("submit_playbook", {"playbook": PLAYBOOK})], delay=delay)

    server.route("engineer", *[engineer] * 10)
    server.route("reviewer", *[reviewer] * 20 * turns)
    server.route("tech_lead", *[tech_lead] * 5)


def run_once(where: Path | None, reviewers: int, delay: float, turns: int) -> dict[str, float]:
    with MessagesServer() as server:
        env = {**os.environ, **FAKE_ENV, "ANTHROPIC_BASE_URL": server.url}
        root = make_project(where, env)
        script(server, delay, turns)
        clock = StageClock()
        began = time.perf_counter()
        forge = open_forge(root, env=env, warn=lambda m: None)
        result = build_one(forge, SLUG, BuildOptions(reviewers=reviewers), clock)
        build = time.perf_counter() - began
        if result.outcome != "merged":
            raise SystemExit(f"no merge: {result.record.failure} (repository kept: {root})")
        calls = sum(
            1 for r in server.message_requests() if "submit_verdict" in json.dumps(r.body["tools"])
        )
    shutil.rmtree(root, ignore_errors=True)
    return {"review": clock.between("review", "merge"), "build": build, "calls": calls}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (1, 5)
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    for i in range(args.repeat):
        for n in sizes if i % 2 == 0 else sizes[::-1]:
            runs[n].append(run_once(args.dir, n, args.delay, args.turns))
    out: dict[str, Any] = {"delay_s": args.delay, "turns_per_reviewer": args.turns}
    for n in sizes:
        out[f"n{n}"] = {
            "review_median_s": round(statistics.median(r["review"] for r in runs[n]), 3),
            "review_runs_s": [round(r["review"], 3) for r in runs[n]],
            "build_median_s": round(statistics.median(r["build"] for r in runs[n]), 3),
            "reviewer_calls": int(runs[n][0]["calls"]),
        }
    ratio = out["n5"]["review_median_s"] / out["n1"]["review_median_s"]
    out.update(
        ratio=round(ratio, 3),
        goal=GOAL,
        goal_met=ratio <= GOAL,
        repeat=args.repeat,
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
    )
    return out


def table(result: dict[str, Any]) -> str:
    ideal = result["delay_s"] * result["turns_per_reviewer"]
    lines = [
        f"review stage, every reply delayed {result['delay_s']} s, {result['turns_per_reviewer']} "
        f"model calls per reviewer (model time alone: {ideal:.1f} s), {result['repeat']} run(s) "
        f"each, {result['cpus']} cpus",
        f"{'':<14}{'review median':>14}{'runs':>26}{'whole build':>14}",
    ]
    for n in (1, 5):
        r = result[f"n{n}"]
        runs = " ".join(f"{v:.2f}" for v in r["review_runs_s"])
        lines.append(
            f"{f'N={n}':<14}{r['review_median_s']:>12.2f} s{runs:>26}{r['build_median_s']:>12.2f} s"
        )
    verdict = "met" if result["goal_met"] else "NOT met"
    lines.append(f"{'ratio N5/N1':<14}{result['ratio']:>12.2f} x  (goal <= {GOAL}x: {verdict})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each panel size")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds every reply is late")
    parser.add_argument("--turns", type=int, default=2, help="model calls per reviewer (>= 1)")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the repositories")
    parser.add_argument("--quick", action="store_true", help="one run of each size (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    args.turns = max(1, args.turns)
    result = measure(args)
    print(table(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
