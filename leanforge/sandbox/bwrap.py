"""The real sandbox: bubblewrap, with the host read-only, no network, and only the run's mounts writable.

What a run sees, in the order the mounts are made:

1. the whole host read-only (``--ro-bind / /``), a minimal ``/dev``, its own ``/proc`` and a
   private, empty ``/tmp``;
2. the repository :class:`Layout`: the user's checkout hidden, the git common dir shown
   read-only, the state dir and the other task worktrees hidden again;
3. the run's own mounts (a task worktree, writable or not).

Hidden paths are empty tmpfs mounts, and they are remounted read-only last, so writing into
"the checkout" fails instead of quietly landing in a scratch filesystem; they are remounted
only after the later mounts, whose mount points bubblewrap creates inside them.

All namespaces are unshared (so no network: only a loopback of the sandbox's own) and every
capability is dropped: when forge runs as root, bubblewrap would otherwise keep root's full
capabilities inside, enough to remount the host writable or write host-wide ``/proc/sys``.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from leanforge.sandbox.base import Layout, Mount, RunRequest, RunResult
from leanforge.sandbox.process import run_process

#: How long the probe in :func:`bwrap_works` may take before bubblewrap counts as broken.
PROBE_TIMEOUT_SECONDS = 20.0

_PROBE_PATH = "/usr/local/bin:/usr/bin:/bin"


class BwrapExecutor:
    """Runs each command in a fresh bubblewrap sandbox shaped by ``layout``."""

    name = "bwrap"

    def __init__(self, layout: Layout, bwrap: str = "bwrap") -> None:
        self.layout = layout
        self.bwrap = bwrap

    def run(self, request: RunRequest) -> RunResult:
        """Run ``request.argv`` inside the sandbox; a timeout kills the sandbox and all in it."""
        # bubblewrap's --die-with-parent plus its pid namespace mean killing the outer bwrap
        # process (which process.py does on timeout) takes every process inside down with it.
        # The death signal fires when the spawning *thread* exits; run() blocks in that
        # thread until the end, so calling it from worker threads is safe.
        argv = bwrap_argv(_resolve_program(self.bwrap), self.layout, request)
        result = run_process(
            argv,
            cwd=Path("/"),
            env=request.env,
            timeout=request.timeout,
            output_limit=request.output_limit,
            stdin=request.stdin,
            pass_fds=request.pass_fds,
        )
        return replace(result, executor=self.name)


def bwrap_argv(
    bwrap: str,
    layout: Layout,
    request: RunRequest,
    exists: Callable[[Path], bool] = Path.exists,
) -> list[str]:
    """The full bubblewrap command line for ``request``: a pure function of its inputs.

    Layout steps whose path does not exist are skipped (nothing there to hide or show); the
    request's mounts are passed as given, so a missing worktree fails loudly.
    """
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    hidden: list[Path] = []
    for kind, path in layout.steps:
        if kind not in ("hide", "ro"):
            raise ValueError(f"unknown layout step {kind!r} for {path}; expected 'hide' or 'ro'")
        if not exists(path):
            continue
        if kind == "hide":
            argv += ["--tmpfs", str(path)]
            hidden.append(path)
        else:
            argv += ["--ro-bind", str(path), str(path)]
    for mount in request.mounts:
        argv += ["--bind" if mount.writable else "--ro-bind", str(mount.path), str(mount.path)]
    for path in hidden:
        if not _covered(path, request.mounts):
            argv += ["--remount-ro", str(path)]
    argv += [
        "--chdir",
        str(request.cwd),
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]
    for name, value in request.env.items():
        argv += ["--setenv", name, value]
    argv.append("--")
    argv += request.argv
    return argv


def _covered(path: Path, mounts: tuple[Mount, ...]) -> bool:
    """Whether a later mount sits on or above ``path``, so remounting it would hit that mount."""
    return any(path.is_relative_to(mount.path) for mount in mounts)


def _resolve_program(program: str) -> str:
    """An absolute path for ``program``: the run's PATH is the sandbox's, not ours."""
    return shutil.which(program) or program


def bwrap_works(bwrap: str = "bwrap") -> bool:
    """Whether bubblewrap really runs ``true`` here, with the flags forge uses; cached per process.

    Containers and locked-down kernels often ship a ``bwrap`` that cannot create namespaces,
    so only a real run tells.
    """
    return _probe(_resolve_program(bwrap))


@functools.cache
def _probe(bwrap: str) -> bool:
    request = RunRequest(
        argv=("true",),
        cwd=Path("/"),
        env={"PATH": _PROBE_PATH},
        timeout=PROBE_TIMEOUT_SECONDS,
        output_limit=4096,
    )
    result = run_process(
        bwrap_argv(bwrap, Layout(), request),
        cwd=Path("/"),
        env={"PATH": _PROBE_PATH},
        timeout=PROBE_TIMEOUT_SECONDS,
        output_limit=4096,
    )
    return result.returncode == 0 and not result.timed_out
