"""Benchmark: `forge build -j 4` over four independent tasks against `-j 1` (one after another).

Each run builds a fresh repository with the `git` CLI and specs four tasks with
``forge spec --tests``. Each task adds its own module (``mod_<name>.py``) and its own locked
test, so no two tasks touch the same file. Then ``forge build <4 slugs> -j J --json`` runs as
a subprocess against forge's local Messages server (leanforge.agent.fake_server), where every
reply is delayed by ``--delay`` seconds (default 2) so that model time dominates, as it does
with a real model. Per task: the engineer writes its module with the editor tool and submits
(2 calls), 3 reviewers view the worktree and approve (2 calls each, in parallel), and the
tech-lead writes a playbook naming the task (1 call): 5 model calls in a row, 10 s at 2 s each.

Merges are serialized by forge's merge lock. A task whose target moved since its branch was
made (an earlier task's merge or playbook commit) is merged with the new target and gated
again before its merge: the output counts these re-gates, their seconds, and how many were
caused by nothing but playbook commits, for both ways.

Measured: the wall time of the whole `forge build` process, ``--repeat`` times each way,
alternating which goes first; medians are compared. Goal: serial / parallel >= 3.

    python bench/parallel.py [--repeat 2] [--delay 2.0] [--jobs 4] [--dir /dev/shm] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _shared import forge_cli, git

from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use

GOAL = 3.0
NAMES = ("alpha", "beta", "gamma", "delta")
EDITOR = "str_replace_based_edit_tool"
FAKE_ENV = {"ANTHROPIC_API_KEY": "sk-ant-bench-not-a-key", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
CONFIG = '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'


def module(name: str) -> str:
    return f"def {name}(x):\n    return x + {len(name)}\n"


def test_source(name: str) -> str:
    return (
        f"from mod_{name} import {name}\n\n\n"
        f"def test_{name}():\n    assert {name}(1) == {len(name) + 1}\n"
    )


def make_project(where: Path | None, env: dict[str, str]) -> Path:
    """A small repository with four tasks specced, each locking its own test file."""
    root = Path(tempfile.mkdtemp(prefix="forge-bench-parallel-", dir=where))
    git(root, "init", "-q", "-b", "main")
    (root / ".forge").mkdir()
    (root / ".forge/config.toml").write_text(CONFIG)
    (root / ".gitignore").write_text("__pycache__/\n")
    (root / "README.md").write_text("four independent modules\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    (root / "tests").mkdir()
    for name in NAMES:
        (root / f"tests/test_{name}.py").write_text(test_source(name))
        done = forge_cli(
            root, env, "spec", f"add {name}", "--tests", f"tests/test_{name}.py", "--slug", name
        )
        if done.returncode != 0:
            raise SystemExit(f"forge spec {name} failed in {root}: {done.stderr[-1500:]}")
    return root


def task_of(body: dict[str, Any]) -> str:
    first = json.dumps(body["messages"][0])
    return next(name for name in NAMES if f"mod_{name}" in first)


def script(server: MessagesServer, delay: float) -> None:
    """Route every role's sessions; each reply arrives ``delay`` seconds late."""

    def engineer(body: dict[str, Any]) -> Reply:
        name = task_of(body)
        if len(body["messages"]) == 1:
            edit = {"command": "create", "path": f"mod_{name}.py", "file_text": module(name)}
            return reply([tool_use(EDITOR, edit)], delay=delay)
        return reply([tool_use("submit_work", {"summary": f"added mod_{name}"})], delay=delay)

    def reviewer(body: dict[str, Any]) -> Reply:
        if len(body["messages"]) == 1:
            return reply([tool_use(EDITOR, {"command": "view", "path": "."})], delay=delay)
        verdict = {"approve": True, "blockers": [], "notes": "looks right"}
        return reply([tool_use("submit_verdict", verdict)], delay=delay)

    def tech_lead(body: dict[str, Any]) -> Reply:
        # A playbook per task, as a real tech-lead writes: each one is a commit on main.
        text = f"# playbook\n\n- {task_of(body)}: one module per task\n"
        return reply([tool_use("submit_playbook", {"playbook": text})], delay=delay)

    server.route("engineer", *[engineer] * 40)
    server.route("reviewer", *[reviewer] * 100)
    server.route("tech_lead", *[tech_lead] * 20)


def regates(root: Path) -> dict[str, Any]:
    """Gate runs per task; the re-gates: how many, their seconds, how many only a playbook caused.

    A re-gate is "playbook only" when everything the target gained since the task's previous
    gate is playbook commits (the previous gate of the first re-gate is on the base commit).
    """
    state, runs, seconds, playbook_only = root / ".git/forge/tasks", {}, 0.0, 0
    for name in NAMES:
        reports = sorted((state / name / "gate").glob("*.json"))
        runs[name] = len(reports)
        seconds += sum(json.loads(p.read_text())["duration_s"] for p in reports[1:])
        record = json.loads((state / name / "task.json").read_text())
        previous = record["base_commit"]
        for entry in record["history"]:
            if entry["note"].startswith("re-gated on "):
                tip = entry["note"].split()[-1]
                gained = git(root, "log", "--first-parent", "--format=%s", f"{previous}..{tip}")
                subjects = gained.splitlines()
                playbook_only += all(s.startswith("forge: playbook") for s in subjects)
                previous = tip
    count = sum(runs.values()) - len(NAMES)
    return {"gate_runs": runs, "regates": count, "regate_s": seconds, "by_playbook": playbook_only}


def run_once(where: Path | None, jobs: int, delay: float) -> dict[str, Any]:
    with MessagesServer() as server:
        env = {**os.environ, **FAKE_ENV, "ANTHROPIC_BASE_URL": server.url}
        root = make_project(where, env)
        script(server, delay)
        began = time.perf_counter()
        done = forge_cli(root, env, "build", *NAMES, "-j", str(jobs), "--json")
        wall = time.perf_counter() - began
        calls = len(server.message_requests())
    try:
        out = json.loads(done.stdout)
    except ValueError:
        raise SystemExit(f"forge build -j {jobs} failed in {root}: {done.stderr[-2000:]}") from None
    if not out["ok"]:
        raise SystemExit(
            f"forge build -j {jobs} left work unmerged in {root}: {done.stdout[-2000:]}"
        )
    found = regates(root)
    shutil.rmtree(root, ignore_errors=True)
    return {"wall": wall, "calls": calls, **found}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    ways = {"serial": 1, "parallel": args.jobs}
    runs: dict[str, list[dict[str, Any]]] = {way: [] for way in ways}
    for i in range(args.repeat):
        for way in ways if i % 2 == 0 else list(ways)[::-1]:
            runs[way].append(run_once(args.dir, ways[way], args.delay))
    out: dict[str, Any] = {"tasks": len(NAMES), "jobs": args.jobs, "delay_s": args.delay}
    for way in ways:
        out[way] = {
            "median_s": round(statistics.median(r["wall"] for r in runs[way]), 2),
            "runs_s": [round(r["wall"], 2) for r in runs[way]],
            "gate_runs_per_task": [r["gate_runs"] for r in runs[way]],
            "regates": [r["regates"] for r in runs[way]],
            "regate_s": [round(r["regate_s"], 1) for r in runs[way]],
            "regates_playbook_only": [r["by_playbook"] for r in runs[way]],
            "model_calls": runs[way][0]["calls"],
        }
    speedup = out["serial"]["median_s"] / out["parallel"]["median_s"]
    out.update(
        model_time_per_task_s=5 * args.delay,
        speedup=round(speedup, 2),
        goal=GOAL,
        goal_met=speedup >= GOAL,
        repeat=args.repeat,
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
    )
    return out


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['tasks']} independent tasks, every reply delayed {result['delay_s']} s "
        f"({result['model_time_per_task_s']:.0f} s of model time per task), "
        f"{result['repeat']} run(s) each, {result['cpus']} cpus",
        f"{'':<8}{'median':>9}  {'runs':<12}re-gates per run (their seconds; how many only a "
        "playbook commit caused)",
    ]
    for way, label in (("serial", "-j 1"), ("parallel", f"-j {result['jobs']}")):
        r = result[way]
        runs = " ".join(f"{v:.1f}" for v in r["runs_s"])
        found = zip(r["regates"], r["regate_s"], r["regates_playbook_only"], strict=True)
        lines.append(
            f"{label:<8}{r['median_s']:>7.1f} s  {runs:<12}"
            + "; ".join(f"{n} ({s:.1f} s; {p} playbook only)" for n, s, p in found)
        )
    verdict = "met" if result["goal_met"] else "NOT met"
    lines.append(f"{'speedup':<8}{result['speedup']:>7.2f} x  (goal >= {GOAL}x: {verdict})")
    lines.append(
        "re-gates: a task whose target moved (an earlier merge or playbook commit) is merged "
        "with it and gated again, one at a time under the merge lock"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds every reply is late")
    parser.add_argument("--jobs", type=int, default=4, help="tasks built at once (-j)")
    parser.add_argument("--dir", type=Path, default=None, help="where to build the repositories")
    parser.add_argument("--quick", action="store_true", help="one run each way (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    result = measure(args)
    print(table(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
