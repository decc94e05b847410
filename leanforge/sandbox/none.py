"""The unisolated fallback: runs commands directly on the host, and says so every single time.

Used where bubblewrap cannot run (macOS, containers without user namespaces) or when the user
chose ``sandbox.mode = "none"``. Timeout, output caps, environment and working directory behave
exactly as under bubblewrap; only the isolation is missing, so the warning is repeated on every
run rather than once, where it would scroll away.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from leanforge.sandbox.base import RunRequest, RunResult
from leanforge.sandbox.process import run_process

WARNING = (
    "sandbox: none — commands run without isolation: they can read the state dir and held-out "
    "tests, write anywhere you can, and use the network"
)


class NoneExecutor:
    """Runs each command directly, calling ``warn`` with a one-line warning on every run."""

    name = "none"

    def __init__(self, warn: Callable[[str], None], reason: str = "") -> None:
        self.warn = warn
        self.warning = f"{WARNING} ({reason})" if reason else WARNING

    def run(self, request: RunRequest) -> RunResult:
        """Run ``request.argv`` in ``request.cwd``; mounts are not enforced (nothing is hidden)."""
        self.warn(self.warning)
        result = run_process(
            request.argv,
            cwd=request.cwd,
            env=request.env,
            timeout=request.timeout,
            output_limit=request.output_limit,
            stdin=request.stdin,
            pass_fds=request.pass_fds,
        )
        return replace(result, executor=self.name, warnings=(*result.warnings, self.warning))
