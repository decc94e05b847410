"""`forge lab ...` on the command line: init, check, lock, unlock, status, run's usage, help.

Most commands run in-process through click's runner (fast); the ones whose behaviour depends on
the real process (no tty on stdin, the error path of the installed entry point) run `python -m
leanforge` as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leanforge.cli import cli

EVALUATOR = """\
import sys
from leanforge.lab import report, run_candidate

done = run_candidate([sys.executable, "-c", "import algo; print(algo.STEPS)"], timeout=60)
if done.returncode != 0:
    sys.exit("the candidate crashed: " + done.stderr)
report(steps=float(done.stdout.strip()), calls=1.0)
"""

NO_REPORT = """\
print("steps: 3")
"""

INIT = (
    "lab", "init", "speed", "--eval", "python bench/evaluate.py", "--metric", "steps",
    "--direction", "min", "--edit", "algo.py", "--data", "bench/noise.txt", "--timeout", "60",
)  # fmt: skip

SUBCOMMANDS = {
    "init": "Create .forge/labs/NAME/",
    "check": "Run the evaluator on the lab's current code",
    "lock": "Lock the evaluator's files",
    "unlock": "Drop the lab's lock",
    "run": "Run experiments until a limit",
    "status": "The experiments table, the best, and a chart",
    "promote": "Merge the lab's best into its target branch",
}


class Cli:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch

    def __call__(self, *args: str) -> Result:
        self.monkeypatch.chdir(self.root)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self(*args, "--json")
        assert done.exit_code == expect, done.output
        return json.loads(done.stdout)

    def process(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leanforge", *args],
            cwd=self.root,
            env={**os.environ},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    @property
    def state(self) -> Path:
        return self.root / ".git" / "forge" / "labs" / "speed"


def one_line_error(done: Result, expect: int = 2) -> str:
    """The command failed with exit ``expect`` and one line on stderr, no traceback."""
    assert done.exit_code == expect, done.output
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in done.output
    return lines[0]


@pytest.fixture
def repo(small_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A project with algo.py and bench/evaluate.py, no lab yet."""
    for secret in ("ANTHROPIC_API_KEY", "FORGE_LAB_FD"):
        monkeypatch.delenv(secret, raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    root = small_repo({"bench/evaluate.py": EVALUATOR, "bench/noise.txt": "0\n"})
    return Cli(root, monkeypatch)


@pytest.fixture
def speed(repo: Cli) -> Cli:
    """The same project with lab ``speed`` initialised (not locked)."""
    done = repo(*INIT)
    assert done.exit_code == 0, done.output
    return repo


# -- init ---------------------------------------------------------------------------------


def test_init_writes_the_lab(repo: Cli) -> None:
    out = repo.json(*INIT)
    folder = ".forge/labs/speed"
    assert out["written"] == [f"{folder}/task.md", f"{folder}/lab.toml"]
    assert out["evaluator"] == ["bench/evaluate.py"] and out["data"] == ["bench/noise.txt"]
    assert out["target"] == "main" and out["eval"] == "python bench/evaluate.py"
    raw = tomllib.loads((repo.root / folder / "lab.toml").read_text())
    assert raw["lab"]["metric"] == "steps" and raw["lab"]["direction"] == "min"
    assert raw["lab"]["edit"] == ["algo.py"] and raw["lab"]["timeout"] == 60.0
    assert "steps" in (repo.root / folder / "task.md").read_text()
    assert not (repo.root / folder / "evaluate.py").exists()


def test_init_without_eval_writes_a_starter_evaluator_that_checks(repo: Cli) -> None:
    done = repo(
        "lab", "init", "quick", "--metric", "seconds", "--direction", "min", "--edit", "algo.py"
    )
    assert done.exit_code == 0, done.output
    starter = repo.root / ".forge" / "labs" / "quick" / "evaluate.py"
    assert "wrote .forge/labs/quick/evaluate.py" in done.stdout
    assert "evaluator files locked with it: .forge/labs/quick/evaluate.py" in done.stdout
    assert "report(" in starter.read_text() and "run_candidate" in starter.read_text()
    raw = tomllib.loads((starter.parent / "lab.toml").read_text())
    assert raw["lab"]["eval"] == "python .forge/labs/quick/evaluate.py"
    assert raw["lab"]["evaluator"] == [".forge/labs/quick/evaluate.py"]
    # The starter evaluator works as written.
    checked = repo("lab", "check", "quick")
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("seconds = ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "nope"), "no local branch named 'nope'"),
        (("--edit", "bench"), "--edit covers locked file(s) bench/evaluate.py, bench/noise.txt"),
        (("--data", "bench/missing.txt"), "--data bench/missing.txt is not a file"),
        (("--data", "../outside.txt"), "is outside the repository"),
    ],
)
def test_init_errors_are_one_line(repo: Cli, args: tuple[str, ...], message: str) -> None:
    done = repo(*INIT, *args)
    assert message in one_line_error(done)
    assert not (repo.root / ".forge" / "labs" / "speed").exists()


def test_init_of_an_existing_lab_is_refused(speed: Cli) -> None:
    toml = speed.root / ".forge" / "labs" / "speed" / "lab.toml"
    before = toml.read_text()
    done = speed(*INIT[:-2], "--timeout", "5")
    assert "lab speed already exists" in one_line_error(done)
    assert toml.read_text() == before
    # The installed entry point says the same in one line.
    real = speed.process(*INIT)
    assert real.returncode == 2
    assert real.stderr.strip().splitlines() == [
        f"Error: lab speed already exists ({toml}); pick another name"
    ]


# -- check --------------------------------------------------------------------------------


def test_check_prints_the_metric(speed: Cli) -> None:
    done = speed("lab", "check", "speed")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines() == [
        "steps = 100",
        "  calls = 1",
        "not locked yet: `forge lab lock speed` when this looks right",
    ]
    out = speed.json("lab", "check", "speed", "--repeats", "2")
    assert out["ok"] is True and out["error"] == "" and out["diagnosis"] == ""
    assert out["name"] == "speed" and out["metric"] == "steps" and out["locked"] is False
    assert out["mean"] == 100.0 and out["std"] == 0.0 and out["samples"] == [100.0, 100.0]
    assert out["metrics"] == {"calls": 1.0, "steps": 100.0}
    assert len(out["runs"]) == 2 and out["runs"][0]["returncode"] == 0
    head = subprocess.run(
        ["git", "rev-parse", "main"], cwd=speed.root, capture_output=True, text=True, check=True
    )
    assert out["commit"] == head.stdout.strip()


def test_check_of_an_evaluator_that_prints_instead_of_reporting(speed: Cli) -> None:
    (speed.root / "bench" / "evaluate.py").write_text(NO_REPORT)
    done = speed("lab", "check", "speed")
    assert done.exit_code == 1
    assert done.stdout == ""
    err = done.stderr
    assert "the evaluator failed: the evaluator reported no metrics" in err
    assert "--- evaluator stdout ---\nsteps: 3" in err
    assert "--- evaluator stderr ---\n(empty)" in err
    assert (
        "expected: the evaluator must call `from leanforge.lab import report; report(NAME=value)`"
        in err
    )
    out = speed.json("lab", "check", "speed", expect=1)
    assert out["ok"] is False and out["mean"] is None
    assert "reported no metrics" in out["error"]
    assert "steps: 3" in out["diagnosis"]


# -- lock and unlock ----------------------------------------------------------------------


def test_lock_twice_then_unlock(speed: Cli) -> None:
    first = speed.json("lab", "lock", "speed")
    assert first["changed"] is True and len(first["lock_sha256"]) == 64
    assert first["files"] == ["bench/evaluate.py", "bench/noise.txt"]
    second = speed.json("lab", "lock", "speed")
    assert second == {**first, "changed": False}
    checked = speed("lab", "check", "speed")
    assert checked.stdout.splitlines()[-1] == "locked"

    refused = speed.process("lab", "unlock", "speed")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "Error: unlocking lab speed needs confirmation; pass --yes"
    assert json.loads((speed.state / "lab.json").read_text())["lock_sha256"] == first["lock_sha256"]

    done = speed("lab", "unlock", "speed", "--yes", "--reason", "x")
    assert done.exit_code == 0, done.output
    assert f"unlocked lab speed (was sha256:{first['lock_sha256'][:16]}" in done.stdout
    record = json.loads((speed.state / "lab.json").read_text())
    assert record["lock_sha256"] == ""
    assert [(e["event"], e["note"]) for e in record["history"]] == [("lock", ""), ("unlock", "x")]
    assert "unlocked" in speed("lab", "status").stdout
    again = speed("lab", "unlock", "speed", "--yes")
    assert "lab speed is not locked; nothing to unlock" in one_line_error(again)


# -- run's usage, status, help ------------------------------------------------------------


def test_run_needs_a_stopping_condition(speed: Cli) -> None:
    done = speed("lab", "run", "speed")
    line = one_line_error(done)
    assert "give a stopping condition: -n N, --max-hours H" in line
    assert not speed.state.exists() or not (speed.state / "results.jsonl").exists()


def test_status_after_one_kept_experiment(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.experiment(lab.algo(50), "halve STEPS")
    lab.run("-n", "1")
    cli = Cli(lab.root, monkeypatch)

    text = cli("lab", "status", "speed")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0].startswith("lab speed: minimize steps; locked; spent $0.")
    assert lines[1].split()[:3] == ["#", "status", "mean"]
    assert lines[2].split()[:3] == ["0", "baseline", "100"]
    assert lines[3].split()[:3] == ["1", "kept", "50"] and lines[3].endswith("halve STEPS")
    best = next(line for line in lines if line.startswith("best: "))
    assert best.startswith("best: #1 steps = 50 (baseline 100) at ")
    chart = lines[lines.index(best) + 2 :]
    assert chart[0].startswith("100 |*")
    assert chart[9].startswith(" 50 | *")
    assert "* kept  o discarded  x failed  - best" in chart[-1]

    doc = cli.json("lab", "status", "speed")
    assert doc["name"] == "speed" and doc["locked"] is True
    assert doc["best"]["id"] == 1 and doc["best"]["mean"] == 50.0
    assert doc["baseline"]["mean"] == 100.0
    assert doc["experiments"] == 1 and doc["counts"] == {"baseline": 1, "kept": 1}
    assert [r["id"] for r in doc["rows"]] == [0, 1]
    assert doc["history"][0]["event"] == "lock"
    assert lines[0].endswith(f"spent ${doc['spent_usd']:.4f}")

    every = cli("lab", "status")
    assert every.stdout.splitlines() == ["speed: locked, 1 experiment(s), best #1 steps = 50"]
    listing = cli.json("lab", "status")
    assert [d["name"] for d in listing["labs"]] == ["speed"]


def test_status_without_labs(repo: Cli) -> None:
    done = repo("lab", "status")
    assert done.exit_code == 0
    assert done.stdout.startswith("no labs yet: `forge lab init NAME")
    assert repo.json("lab", "status") == {"labs": []}
    missing = repo("lab", "status", "nope")
    assert "no lab named 'nope'" in one_line_error(missing)


def test_help_for_the_group_and_every_subcommand() -> None:
    runner = CliRunner()
    group = runner.invoke(cli, ["lab", "-h"])
    assert group.exit_code == 0
    assert "Metric mode: agents evolve code against a locked evaluator." in group.stdout
    for name in SUBCOMMANDS:
        assert f"\n  {name} " in group.stdout
    for name, first_line in SUBCOMMANDS.items():
        done = runner.invoke(cli, ["lab", name, "-h"])
        assert done.exit_code == 0, (name, done.output)
        assert done.stdout.startswith(f"Usage: forge lab {name} ") or done.stdout.startswith(
            f"Usage: cli lab {name} "
        ), done.stdout
        assert first_line in " ".join(done.stdout.split()), name
        assert "--json" in done.stdout
