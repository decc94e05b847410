"""examples/lab/run.sh end to end: the offline metric-lab tour as a real subprocess.

The tour copies the example project into a fresh repository, then runs `forge lab init`,
`check`, `lock`, `run -n 3`, `status` and `promote` with the scripted backend. No model is
called and no key is set; the sandbox is bubblewrap where it works, else mode `none`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lab"


def test_lab_example_runs_offline(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PYTEST_", "GIT_"))
    }
    env.update(
        FORGE=f"{sys.executable} -m leanforge",
        HOME=str(tmp_path),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    repo_dir = tmp_path / "lab"
    proc = subprocess.run(
        ["bash", str(EXAMPLE / "run.sh"), str(repo_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"the lab's repository is {repo_dir}" in proc.stdout

    state = repo_dir / ".git" / "forge" / "labs" / "primes"
    rows = [json.loads(line) for line in (state / "results.jsonl").read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [
        (0, "baseline"),
        (1, "kept"),
        (2, "crashed"),
        (3, "kept"),
    ]
    base, first, wrong, fixed = rows
    # The evaluator is deterministic: every baseline run reports the same work.
    assert len(base["samples"]) == 3 and len(set(base["samples"])) == 1
    assert base["std"] == 0.0
    assert "wrong answer: count_primes(10)" in wrong["error"]
    assert wrong["mean"] is None and not wrong["kept"]
    assert fixed["fix_of"] == 2 and fixed["parent"] == wrong["experiment_commit"]
    assert fixed["mean"] < first["mean"] < base["mean"]

    record = json.loads((state / "lab.json").read_text())
    assert record["best"]["id"] == 3 and record["best"]["mean"] == fixed["mean"]
    assert record["notes"].startswith("- Trial division") and record["notes_after"] == 3
    assert record["critique"] and record["critique_after"] == 3

    repo = pygit2.Repository(str(repo_dir))
    for number in (1, 2, 3):
        assert f"refs/forge/lab/primes/exp-{number}" in repo.references
    head = repo.branches.local["main"].peel(pygit2.Commit)
    assert len(head.parents) == 2
    assert head.parents[1].id == repo.branches.local["forge/lab/primes"].target
    trailers = dict(
        line.split(": ", 1) for line in head.message.strip().splitlines()[-3:] if ": " in line
    )
    assert trailers["Forge-Lab"] == "primes"
    assert trailers["Forge-Lock"] == f"sha256:{record['lock_sha256']}"
    assert trailers["Forge-Metric"].startswith(f"work={fixed['mean']:.6g} (baseline")
    promoted = (repo_dir / "primes.py").read_text()
    assert "if k % 2 == 0:" in promoted and "int(k**0.5) + 1, 2)" in promoted
