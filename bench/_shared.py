"""What the pipeline benchmarks share: the git CLI and the forge CLI on a bench repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]


def git(root: Path, *args: str, stdin: bytes | None = None) -> str:
    """Run git in ``root`` (bench code may; forge itself never does); return its stdout."""
    done = subprocess.run(
        ["git", "-C", str(root), *IDENTITY, *args], input=stdin, check=True, capture_output=True
    )
    return done.stdout.decode()


def forge_cli(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``forge ARGS`` in ``root`` as a user would, with this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "leanforge", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


def forge_ok(root: Path, env: dict[str, str], *args: str) -> None:
    """``forge_cli``, stopping the benchmark with forge's own message if it fails."""
    done = forge_cli(root, env, *args)
    if done.returncode != 0:
        raise SystemExit(f"forge {args[0]} failed in {root}: {done.stderr[-1500:]}")
