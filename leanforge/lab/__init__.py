"""What an evaluator imports: report metrics to forge, and run candidate code in a child process.

This module is the evaluator's side of the metric channel, and it uses only the standard
library: forge puts a copy of it on the evaluator's ``PYTHONPATH`` for every run, so an
evaluator can ``from leanforge.lab import report`` even when the project's interpreter does
not have leanforge installed.

The channel is a file descriptor that forge opens outside the worktree and hands to the
evaluator process alone (its number is in ``FORGE_LAB_FD``). Forge never reads the score from
anyone's stdout or stderr, so an experiment that prints a better number changes nothing.
:func:`run_candidate` starts the code under test without that descriptor and without the
variable, so only the evaluator can report. See docs/lab.md for the threat model.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

#: The environment variable that names the channel's file descriptor.
CHANNEL_ENV = "FORGE_LAB_FD"
#: Which of the R runs of one evaluation this is (1-based): a seed for stochastic benchmarks.
REPEAT_ENV = "FORGE_LAB_REPEAT"
#: The largest report forge reads, in bytes.
REPORT_LIMIT = 65_536


class ChannelError(RuntimeError):
    """The evaluator was not started by forge, or reported something forge cannot read."""


def report(metrics: Mapping[str, float] | None = None, **named: float) -> None:
    """Send this evaluation's metrics to forge: ``report(seconds=1.25, accuracy=0.93)``.

    Call it once per evaluation. Values must be finite numbers. A second report in the same
    run makes forge reject the run, because only a second writer could have sent it. Outside
    forge (no ``FORGE_LAB_FD``) the report is printed to stderr and recorded nowhere.
    """
    values = {**(metrics or {}), **named}
    if not values:
        raise ChannelError("report() needs at least one metric, e.g. report(seconds=1.25)")
    clean = check_metrics(values)
    line = (json.dumps({"metrics": clean}, sort_keys=True) + "\n").encode()
    if len(line) > REPORT_LIMIT:
        raise ChannelError(f"the report is {len(line)} bytes; forge reads at most {REPORT_LIMIT}")
    if CHANNEL_ENV not in os.environ:
        # Run by hand (or by a worker trying its change): show the numbers, record nothing.
        sys.stderr.write(f"forge lab (not recorded; forge did not start this run): {line.decode()}")
        return
    os.write(_channel_fd(), line)


def check_metrics(values: Mapping[str, object]) -> dict[str, float]:
    """The metrics as floats; raise :class:`ChannelError` if one is not a finite number.

    Both sides of the channel use it: :func:`report` before sending, forge after reading.
    """
    clean: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ChannelError(f"metric {name!r} is {value!r}, not a number")
        if not math.isfinite(value):
            raise ChannelError(f"metric {name!r} is {value}; metrics must be finite")
        clean[str(name)] = float(value)
    return clean


def run_candidate(
    args: Sequence[str],
    *,
    input: str | None = None,
    timeout: float | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the code under test as a child process that cannot reach the metric channel.

    The child gets no inherited descriptors but stdin, stdout and stderr, and no
    ``FORGE_LAB_FD``; its output is captured as text for the evaluator to check.
    """
    child_env = dict(os.environ if env is None else env)
    child_env.pop(CHANNEL_ENV, None)
    return subprocess.run(
        list(args),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=child_env,
        close_fds=True,
        check=False,
    )


def _channel_fd() -> int:
    raw = os.environ.get(CHANNEL_ENV, "")
    if not raw.isdigit():
        raise ChannelError(f"{CHANNEL_ENV}={raw!r} is not a file descriptor number")
    fd = int(raw)
    try:
        os.fstat(fd)
    except OSError as exc:
        raise ChannelError(f"the metric channel (fd {fd}) is not open: {exc}") from exc
    return fd
