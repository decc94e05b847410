"""Spawn one process, wait with a deadline, capture bounded output: shared by every executor.

The pieces that are easy to get subtly wrong live here once:

- output goes to anonymous temp files, never pipes, so a chatty child cannot deadlock us
  while we wait, and stdin comes from a temp file for the same reason;
- the child leads a new session (its own process group), so on timeout one ``killpg``
  reaches the grandchildren too (a test suite's ``sleep``, a forked server);
- with a pidfd we learn of the exit without reaping the leader, so its process group id
  stays reserved while we kill leftovers: no race with pid reuse;
- only the head and the tail of each stream are kept, because a runaway loop is most
  useful to read at its start (what ran) and its end (how it failed).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from leanforge.sandbox.base import RunResult

#: Reported as the return code when the deadline passed and the group was killed (-SIGKILL,
#: what ``subprocess`` reports for a child killed by SIGKILL).
TIMEOUT_RETURNCODE = -signal.SIGKILL

#: Reported when the command could not be started at all (missing program or cwd), as a shell does.
SPAWN_FAILED_RETURNCODE = 127

_MAX_POLL_MS = 60 * 60 * 1000


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    output_limit: int,
    stdin: bytes = b"",
    pass_fds: tuple[int, ...] = (),
) -> RunResult:
    """Run ``argv`` to completion or until ``timeout`` seconds pass, whichever is first.

    The result's ``executor`` and ``warnings`` are left empty for the caller to fill in.
    Any processes still in the child's process group when it ends (or times out) are
    killed: a run leaves nothing behind unless a process escaped with ``setsid``.
    """
    if not argv:
        raise ValueError("run_process needs a command; argv is empty")
    started = time.monotonic()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as inp,
    ):
        inp.write(stdin)
        inp.flush()
        inp.seek(0)
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=inp,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        except OSError as exc:
            return RunResult(
                returncode=SPAWN_FAILED_RETURNCODE,
                stdout="",
                stderr=f"cannot start {argv[0]}: {exc}\n",
                duration=time.monotonic() - started,
            )
        with proc:
            try:
                timed_out = not _wait_unreaped(proc, timeout)
            finally:  # on Ctrl-C too: never leave a run behind us
                _kill_group(proc.pid)
            returncode = proc.wait()
        duration = time.monotonic() - started
        stdout, out_cut = read_capped(out, output_limit)
        stderr, err_cut = read_capped(err, output_limit)
    return RunResult(
        returncode=TIMEOUT_RETURNCODE if timed_out else returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        truncated=out_cut or err_cut,
        duration=duration,
    )


def read_capped(handle: IO[bytes], limit: int) -> tuple[str, bool]:
    """Decode at most ``limit`` bytes of a capture file: its head and its tail, and whether it was cut.

    A one-line marker saying how much was dropped joins the head and the tail; it is not
    counted in ``limit``.
    """
    size = handle.seek(0, os.SEEK_END)
    limit = max(limit, 0)
    if size <= limit:
        handle.seek(0)
        return handle.read().decode("utf-8", errors="replace"), False
    head_len = limit // 2
    tail_len = limit - head_len
    handle.seek(0)
    head = handle.read(head_len)
    handle.seek(size - tail_len)
    tail = handle.read(tail_len)
    marker = f"\n[... {size - limit} bytes cut by forge: output over {limit} bytes ...]\n"
    text = head.decode("utf-8", errors="replace") + marker + tail.decode("utf-8", errors="replace")
    return text, True


def _wait_unreaped(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for ``proc`` to exit within ``timeout``; True if it did. Leaves it unreaped when it can.

    Leaving the leader a zombie keeps its pid (our process group id) from being reused, so the
    ``killpg`` that follows cannot hit an unrelated process.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:  # not Linux: fall back to Popen's polling wait (reaps the leader)
        try:
            proc.wait(timeout=max(timeout, 0.0))
        except subprocess.TimeoutExpired:
            return False
        return True
    fd = pidfd_open(proc.pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            remaining = max(deadline - time.monotonic(), 0.0)
            # poll() takes whole milliseconds in a C int: round up, and wait in slices.
            if poller.poll(min(int(remaining * 1000) + 1, _MAX_POLL_MS)):
                return True
            if time.monotonic() >= deadline:
                return False
    finally:
        os.close(fd)


def _kill_group(pgid: int) -> None:
    """SIGKILL every process in the group; it is fine if there is nobody left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
