"""The executor boundary: what a sandboxed run is asked to do and what it reports."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: Variables copied from the caller's environment into every run; everything else is dropped.
ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")

#: Names that are never passed into a sandbox, even when configured.
SECRET_PATTERNS = (
    "*_API_KEY",
    "*_APIKEY",
    "*_TOKEN",
    "*_SECRET",
    "*_SECRET_*",
    "*SECRET_KEY*",
    "*_PASSWORD",
    "*_PASSWD",
    "*_CREDENTIALS",
    "*_PRIVATE_KEY",
    "*_AUTH",
    "AWS_*",
    "ANTHROPIC_*",
    "OPENAI_*",
    "GITHUB_*",
    "GH_*",
    "SSH_AUTH_SOCK",
)


def is_secret(name: str) -> bool:
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, pattern) for pattern in SECRET_PATTERNS)


def scrub_env(
    source: Mapping[str, str],
    *,
    passthrough: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build a run's environment from an allowlist: no secrets, no PYTHONPATH, no PYTEST_ADDOPTS."""
    env = {name: source[name] for name in ENV_ALLOWLIST if name in source}
    for name in passthrough:
        if name in source and not is_secret(name):
            env[name] = source[name]
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Mount:
    """A path made visible inside the sandbox, at the same path, read-only unless ``writable``."""

    path: Path
    writable: bool = False


@dataclass(frozen=True)
class Layout:
    """The repository-wide shape of the sandbox's filesystem view, applied in order.

    Each step either hides a path under an empty tmpfs (``"hide"``: the user's checkout, the
    state dir, the task worktrees) or re-exposes it read-only (``"ro"``: the git common dir,
    the project's virtualenv). Order matters: the checkout is hidden, the common dir inside it
    shown read-only, then the state dir inside that hidden again. A run's own ``mounts`` are
    applied after all steps.
    """

    steps: tuple[tuple[str, Path], ...] = ()


@dataclass(frozen=True)
class RunRequest:
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    timeout: float
    mounts: tuple[Mount, ...] = ()
    output_limit: int = 1_000_000
    stdin: bytes = b""
    #: Open file descriptors the command inherits at the same numbers (a metric channel).
    pass_fds: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    duration: float = 0.0
    executor: str = ""
    warnings: tuple[str, ...] = field(default=())


class Executor(Protocol):
    """Runs one command, isolated as far as the implementation can."""

    name: str

    def run(self, request: RunRequest) -> RunResult: ...
