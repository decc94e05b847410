"""Timeout, capture, caps, stdin, env and cwd: the same under every executor."""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from leanforge.sandbox.base import Executor, RunRequest
from leanforge.sandbox.process import (
    SPAWN_FAILED_RETURNCODE,
    TIMEOUT_RETURNCODE,
    read_capped,
    run_process,
)

RequestFor = Callable[..., RunRequest]


def processes_with_cmdline(argv: list[str]) -> list[int]:
    """Pids on this host whose command line is exactly ``argv`` (sandboxed ones included)."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == wanted:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until_gone(argv: list[str], seconds: float = 5.0) -> list[int]:
    """Killing is asynchronous: give the kernel a moment before calling a process a survivor."""
    deadline = time.monotonic() + seconds
    while (pids := processes_with_cmdline(argv)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


SPAWN_SLEEPER = """
import subprocess, sys, time
subprocess.Popen(["sleep", sys.argv[1]])
print("started", flush=True)
time.sleep(120)
"""


def test_timeout_kills_the_whole_process_tree(
    any_executor: Executor, request_for: RequestFor
) -> None:
    token = f"{3000 + secrets.randbelow(10**6) / 1000:.3f}"
    result = any_executor.run(request_for(SPAWN_SLEEPER, token, timeout=1.5))
    assert result.timed_out
    assert result.returncode == TIMEOUT_RETURNCODE
    assert "started" in result.stdout  # output written before the kill is kept
    assert 1.5 <= result.duration < 20
    assert wait_until_gone(["sleep", token]) == []


def test_background_leftovers_are_killed_when_the_command_ends(
    any_executor: Executor, request_for: RequestFor
) -> None:
    token = f"{3000 + secrets.randbelow(10**6) / 1000:.3f}"
    code = "import subprocess, sys; subprocess.Popen(['sleep', sys.argv[1]])"
    result = any_executor.run(request_for(code, token))
    assert (result.returncode, result.timed_out) == (0, False)
    assert wait_until_gone(["sleep", token]) == []


def test_output_over_the_cap_keeps_head_and_tail(
    any_executor: Executor, request_for: RequestFor
) -> None:
    code = "import sys; sys.stdout.write('A' * 5000 + 'B' * 5000); sys.stderr.write('small')"
    result = any_executor.run(request_for(code, output_limit=1000))
    assert result.truncated
    assert result.stdout.startswith("A" * 500 + "\n[... 9000 bytes cut")
    assert result.stdout.endswith("]\n" + "B" * 500)
    assert result.stderr == "small"


def test_output_within_the_cap_is_whole(any_executor: Executor, request_for: RequestFor) -> None:
    result = any_executor.run(request_for("print('x' * 1000)", output_limit=1001))
    assert (result.stdout, result.truncated) == ("x" * 1000 + "\n", False)


def test_exit_code_stdin_env_and_cwd_are_passed(
    any_executor: Executor, request_for: RequestFor
) -> None:
    code = "import json, os, sys; print(json.dumps([sys.stdin.read(), os.getcwd(), dict(os.environ)])); sys.exit(3)"
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "FORGE_X": "1"}
    request = replace(request_for(code, env=env), stdin=b"hello")
    result = any_executor.run(request)
    assert (result.returncode, result.timed_out) == (3, False)
    stdin, cwd, seen = json.loads(result.stdout)
    assert (stdin, cwd) == ("hello", str(request.cwd))
    # bubblewrap's --chdir also exports PWD; nothing else may be added.
    assert seen.pop("PWD", cwd) == cwd
    assert seen == env
    assert result.executor == any_executor.name


def test_undecodable_output_is_replaced_not_fatal(
    any_executor: Executor, request_for: RequestFor
) -> None:
    result = any_executor.run(request_for("import sys; sys.stdout.buffer.write(b'ok\\xff')"))
    assert result.stdout == "ok\ufffd"


def test_a_missing_program_is_a_result_not_an_exception(tmp_path: Path) -> None:
    result = run_process(
        [str(tmp_path / "no-such-program")],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=5,
        output_limit=1000,
    )
    assert result.returncode == SPAWN_FAILED_RETURNCODE
    assert "no-such-program" in result.stderr


def test_large_stdin_and_output_do_not_deadlock(tmp_path: Path) -> None:
    # 8 MiB each way is far past any pipe buffer: pipes would hang here, temp files do not.
    data = os.urandom(4 * 1024 * 1024).hex().encode()
    code = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d); sys.stderr.buffer.write(d)"
    result = run_process(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
        output_limit=len(data),
        stdin=data,
    )
    assert (result.returncode, result.truncated) == (0, False)
    assert result.stdout.encode() == data == result.stderr.encode()


@pytest.mark.parametrize(
    ("data", "limit", "expected"),
    [
        (b"", 10, ("", False)),
        (b"0123456789", 10, ("0123456789", False)),
        (b"0123456789", 4, ("01\n[... 6 bytes cut by forge: output over 4 bytes ...]\n89", True)),
        (b"0123456789", 3, ("0\n[... 7 bytes cut by forge: output over 3 bytes ...]\n89", True)),
        (b"abc", 0, ("\n[... 3 bytes cut by forge: output over 0 bytes ...]\n", True)),
    ],
)
def test_read_capped(data: bytes, limit: int, expected: tuple[str, bool]) -> None:
    assert read_capped(io.BytesIO(data), limit) == expected
