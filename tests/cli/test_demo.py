"""`forge demo`, the README's first command: offline, in a fresh directory, the whole loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2


def forge(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leanforge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    # Any attempt to reach a model would fail here: no key, and nothing listening.
    return {**env, "HOME": str(tmp_path), "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}


def test_forge_demo_runs_the_whole_loop_offline_in_a_fresh_directory(tmp_path: Path) -> None:
    done = forge("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path, env=offline_env(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "slugify merged after 3 attempt(s)" in out
    assert "attempt 1  gate failed" in out and "attempt 2  rejected: reviewer" in out
    assert "The agents were scripted" in out and "forge show slugify" in out
    repo_dir = tmp_path / "demo" / "textkit"
    assert f"cd {repo_dir}" in out
    repo = pygit2.Repository(str(repo_dir))
    head = repo.head.peel(pygit2.Commit)
    assert "Forge-Playbook: slugify" in head.message
    assert "Forge-Task: slugify" in head.parents[0].message
    assert "isinstance(text, str)" in (repo_dir / "textkit.py").read_text()
    assert "check `isinstance(text, str)`" in (repo_dir / ".forge/PLAYBOOK.md").read_text()
    assert (repo_dir / "tests/test_slugify.py").is_file()
    assert not (repo_dir / "holdout").exists()
    shown = forge("show", "slugify", "--json", cwd=repo_dir, env=offline_env(tmp_path))
    assert json.loads(shown.stdout)["status"] == "merged"


def test_forge_demo_live_without_a_key_says_so_and_creates_nothing(tmp_path: Path) -> None:
    env = offline_env(tmp_path)
    done = forge("demo", "--live", "--dir", str(tmp_path / "d"), cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "ANTHROPIC_API_KEY" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "d").exists()
