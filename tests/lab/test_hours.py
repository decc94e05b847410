"""`--max-hours` in-process: an injected clock, the scripted backend, no sandbox.

The clock moves one hour per finished experiment (it counts the lab's result rows), so the
number of experiments a deadline allows is exact, whatever else reads the clock meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leanforge.context import open_forge
from leanforge.lab import setup
from leanforge.lab.create import init_lab
from leanforge.lab.locking import lock_lab
from leanforge.lab.run import LabRun, RunOptions

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

EVALUATOR = """\
import sys
from leanforge.lab import report, run_candidate

done = run_candidate([sys.executable, "-c", "import algo; print(algo.STEPS)"], timeout=60)
if done.returncode != 0:
    sys.exit(done.stderr)
report(steps=float(done.stdout.strip()))
"""


class ExperimentClock:
    """Time passes only as the lab finishes experiments: one hour each."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.readings: list[datetime] = []

    def finished(self) -> int:
        if not self.results.is_file():
            return 0
        rows = [json.loads(line) for line in self.results.read_text().splitlines() if line]
        return sum(1 for r in rows if r["status"] != "baseline")

    def now(self) -> datetime:
        moment = START + timedelta(hours=self.finished())
        self.readings.append(moment)
        return moment


def worker_session(steps: int) -> list[dict[str, Any]]:
    command = f"printf 'STEPS = {steps}\\n' > algo.py"
    return [
        {"tools": [{"name": "bash", "input": {"command": command}}]},
        {
            "tools": [
                {
                    "name": "submit_experiment",
                    "input": {"hypothesis": f"STEPS = {steps}", "summary": "s"},
                }
            ]
        },
    ]


@pytest.fixture
def root(tmp_path: Path, small_repo: Callable[..., Path]) -> Path:
    root = small_repo({"bench/evaluate.py": EVALUATOR})
    turns = [turn for i in range(1, 11) for turn in worker_session(100 - 5 * i)]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [], "routes": {"lab_worker": turns}}))
    (tmp_path / "script-path").write_text(str(script))
    return root


def run_lab(root: Path, max_hours: float, n: int = 10) -> tuple[Any, ExperimentClock, list[str]]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(root.parent),
        "FORGE_BACKEND": "scripted",
        "FORGE_SCRIPT": (root.parent / "script-path").read_text(),
        "FORGE_SANDBOX": "none",
    }
    clock = ExperimentClock(root / ".git" / "forge" / "labs" / "speed" / "results.jsonl")
    forge = open_forge(root, env=env, clock=clock, warn=lambda _: None)
    init_lab(
        forge,
        "speed",
        eval_command="python bench/evaluate.py",
        metric="steps",
        direction="min",
        edit=["algo.py"],
        timeout=60,
    )
    config = setup.load(root, "speed")
    lock_lab(forge, config)
    config = dataclasses.replace(
        config, run=dataclasses.replace(config.run, director_every=0, critic_every=0)
    )
    notes: list[str] = []
    summary = LabRun(forge, config, RunOptions(max_hours=max_hours, n=n), note=notes.append).run()
    return summary, clock, notes


@pytest.mark.parametrize(("hours", "expected"), [(2.5, 3), (1.0, 1)])
def test_max_hours_stops_on_the_clock(root: Path, hours: float, expected: int) -> None:
    summary, clock, notes = run_lab(root, hours)
    assert summary.stop == "time limit reached (--max-hours)"
    # -n 10 allowed more: the clock stopped the run.
    assert len(summary.rows) == expected < 10
    assert [r["id"] for r in summary.rows] == list(range(1, expected + 1))
    assert all(r["status"] == "kept" for r in summary.rows), [r.get("error") for r in summary.rows]
    assert summary.best is not None and summary.best.mean == 100 - 5 * expected
    # The last reading is past the deadline, every experiment started before it.
    deadline = START + timedelta(hours=hours)
    assert clock.readings[-1] >= deadline
    started = [r["started_at"] for r in summary.rows]
    assert all(datetime.fromisoformat(s) < deadline for s in started)
    assert any("baseline #0" in note for note in notes)


def test_without_a_deadline_n_stops_it(root: Path) -> None:
    """The control: the same lab, a far deadline, stops on -n."""
    summary, _, _ = run_lab(root, 1000.0, n=2)
    assert summary.stop == "ran 2 experiment(s) (-n)"
    assert len(summary.rows) == 2
