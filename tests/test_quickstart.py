"""The README's first command, end to end: the offline tour run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pygit2


def test_quickstart_tour_runs_offline(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "examples" / "quickstart.sh"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "PYTEST_", "GIT_"))
    }
    env["FORGE"] = f"{sys.executable} -m leanforge"
    env["HOME"] = str(tmp_path)
    tour = tmp_path / "tour"
    proc = subprocess.run(
        ["bash", str(script), str(tour)], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("FAILED") == 2, "the wrong code and the cheat both fail"
    assert "suspect conftest.py" in proc.stdout
    assert "PASSED" in proc.stdout.split("the honest fix")[1]
    repo = pygit2.Repository(str(tour))
    assert "forge/make-add-add" in repo.branches.local
    assert (tour / ".git" / "forge" / "tasks" / "make-add-add" / "gate" / "0003.json").is_file()
