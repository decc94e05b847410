"""The project's interpreter: which one runs the tests, and whether it has pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from leanforge.config import Config
from leanforge.errors import InterpreterError


def resolve_python(config: Config, workdir: Path) -> Path:
    """The project's interpreter: configured, else the repo's .venv, else python3 on PATH.

    Always taken from the main checkout, never from a task worktree: a planted
    ``.venv/bin/python`` in a worktree could fake the gate's results.
    """
    if config.python:
        candidate = Path(config.python).expanduser()
        if not candidate.is_absolute():
            found = (
                (workdir / candidate)
                if (workdir / candidate).exists()
                else shutil.which(config.python)
            )
            if found is None:
                raise InterpreterError(
                    f"python = {config.python!r} was not found; set `python` in .forge/config.toml to a real interpreter"
                )
            candidate = Path(found)
        if not candidate.exists():
            raise InterpreterError(
                f"python = {config.python!r} does not exist; set `python` in .forge/config.toml to a real interpreter"
            )
        return candidate.absolute()
    venv = workdir / ".venv" / "bin" / "python"
    if venv.exists():
        return venv
    found = shutil.which("python3")
    if found is None:
        raise InterpreterError(
            "no python3 on PATH and no .venv in the repository; set `python` in .forge/config.toml"
        )
    return Path(found)


def probe_interpreter(python: Path, cwd: Path | None = None) -> tuple[Path, str]:
    """(the real executable, its pytest version) of ``python``, or say how to fix it.

    The real executable matters: ``python3`` on PATH may be a shim (pyenv) that picks an
    interpreter from a ``.python-version`` in the current directory, and a task worktree must
    never choose the gate's interpreter. ``cwd`` should be the user's checkout.
    """
    code = "import sys, pytest; print(sys.executable); print(pytest.__version__)"
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=cwd,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    except OSError as exc:
        raise InterpreterError(
            f"cannot run {python} ({exc}); set `python` in .forge/config.toml"
        ) from exc
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or len(lines) < 2 or not lines[0]:
        raise InterpreterError(
            f"{python} has no pytest; install it with `{python} -m pip install pytest` or set `python` in .forge/config.toml"
        )
    return Path(lines[0]), lines[1].strip()
