"""Run the pristine evaluator on a candidate, in the sandbox, and read its metric channel.

Each run gets a fresh channel: a file forge creates outside every worktree and the sandbox,
opened for appending and handed to the evaluator as an inherited file descriptor
(``FORGE_LAB_FD``). Forge reads the score from that file only; the evaluator's stdout and
stderr are kept for diagnosis and never parsed. Exactly one report is accepted per run: a
second one means something besides the evaluator wrote to the channel.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import leanforge.lab as client
from leanforge.agent.tools.bash import bash_env
from leanforge.context import Forge
from leanforge.gate.tamper import restore
from leanforge.lab.ledger import Measure
from leanforge.lab.setup import LabConfig
from leanforge.sandbox.base import Mount, RunRequest, scrub_env

#: What is kept of the evaluator's stdout and stderr for diagnosis (head and tail).
OUTPUT_LIMIT = 200_000
EXPECTED_FORM = (
    "the evaluator must call `from leanforge.lab import report; report(NAME=value)` once, or write "
    'one line of JSON {"metrics": {"NAME": value}} to the file descriptor in $FORGE_LAB_FD'
)


@dataclass(frozen=True)
class EvalRun:
    """One evaluator run."""

    metrics: Mapping[str, float] | None
    error: str
    returncode: int
    timed_out: bool
    duration: float
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Evaluation:
    """The evaluator's verdict on one candidate over R runs."""

    runs: tuple[EvalRun, ...]
    metric: str
    error: str = ""
    measure: Measure | None = None
    #: The mean of every reported metric.
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error and self.measure is not None


def parse_reports(data: bytes, metric: str) -> tuple[dict[str, float] | None, str]:
    """The metrics in a channel file, or why there are none: a pure function."""
    if len(data) > client.REPORT_LIMIT:
        return None, f"the metric channel got {len(data)} bytes; at most {client.REPORT_LIMIT}"
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        return None, f"the evaluator reported no metrics; {EXPECTED_FORM}"
    if len(lines) > 1:
        return None, (
            f"the metric channel got {len(lines)} reports; exactly one is allowed per run, so "
            "something besides the evaluator wrote to it"
        )
    try:
        raw = json.loads(lines[0])
    except ValueError:
        return None, f"the metric channel holds {lines[0][:80]!r}, not JSON; {EXPECTED_FORM}"
    values = raw.get("metrics") if isinstance(raw, dict) else None
    if not isinstance(values, dict):
        return None, f'the report has no "metrics" object; {EXPECTED_FORM}'
    try:
        metrics = client.check_metrics(values)
    except client.ChannelError as exc:
        return None, str(exc)
    if metric not in metrics:
        names = ", ".join(sorted(metrics)) or "none"
        return None, f"the evaluator reported {names} but not the lab's metric {metric!r}"
    return metrics, ""


def measure(samples: Sequence[float]) -> Measure:
    """Mean and (sample) standard deviation of repeated runs."""
    values = tuple(samples)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return Measure(mean=statistics.fmean(values), std=spread, samples=values)


def summarize(runs: Sequence[EvalRun], metric: str) -> Evaluation:
    """An evaluation from its runs: any failed run fails the candidate (pure)."""
    failed = next((r for r in runs if r.error), None)
    if failed is not None:
        return Evaluation(runs=tuple(runs), metric=metric, error=failed.error)
    reported = [r.metrics for r in runs if r.metrics is not None]
    names = set.intersection(*(set(m) for m in reported)) if reported else set()
    means = {name: statistics.fmean(m[name] for m in reported) for name in sorted(names)}
    return Evaluation(
        runs=tuple(runs),
        metric=metric,
        measure=measure([m[metric] for m in reported]),
        metrics=means,
    )


def _client_dir(root: Path) -> Path:
    """A PYTHONPATH folder holding a copy of the evaluator's helper (``leanforge.lab``)."""
    lib = root / "lib"
    (lib / "leanforge" / "lab").mkdir(parents=True)
    (lib / "leanforge" / "__init__.py").write_text('"""leanforge: the evaluator\'s helper."""\n')
    source = Path(client.__file__).read_text(encoding="utf-8")
    (lib / "leanforge" / "lab" / "__init__.py").write_text(source, encoding="utf-8")
    return lib


def run_once(
    forge: Forge, config: LabConfig, worktree: Path, scratch: Path, repeat: int = 1
) -> EvalRun:
    """One evaluator run on ``worktree`` (mounted read-only), reading its own fresh channel.

    ``repeat`` (1-based) is passed as ``FORGE_LAB_REPEAT``, so a stochastic benchmark can seed
    from it and repeat the same R draws for every candidate.
    """
    channel = scratch / f"channel-{os.urandom(6).hex()}"
    fd = os.open(channel, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
    lib = scratch / "lib"
    home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
    try:
        env = scrub_env(
            forge.env,
            passthrough=forge.config.sandbox.env_passthrough,
            extra={
                client.CHANNEL_ENV: str(fd),
                client.REPEAT_ENV: str(repeat),
                "PYTHONPATH": str(lib),
                "PYTHONDONTWRITEBYTECODE": "1",
                "HOME": str(home),
                "TMPDIR": str(home),
            },
        )
        result = forge.executor.run(
            RunRequest(
                argv=("bash", "-c", config.eval),
                cwd=worktree,
                env=bash_env(env, forge.python),
                timeout=config.timeout,
                mounts=(
                    Mount(worktree, writable=False),
                    Mount(lib, writable=False),
                    Mount(home, writable=True),
                ),
                output_limit=OUTPUT_LIMIT,
                pass_fds=(fd,),
            )
        )
    finally:
        os.close(fd)
    with open(channel, "rb") as handle:
        data = handle.read(client.REPORT_LIMIT + 1)
    metrics, error = parse_reports(data, config.metric)
    if result.timed_out:
        metrics, error = None, f"the evaluator timed out after {config.timeout:g} s"
    elif result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-600:]
        metrics = None
        error = f"the evaluator exited with status {result.returncode}" + (
            f": {tail}" if tail else ""
        )
    return EvalRun(
        metrics=metrics,
        error=error,
        returncode=result.returncode,
        timed_out=result.timed_out,
        duration=round(result.duration, 3),
        stdout=result.stdout,
        stderr=result.stderr,
    )


def evaluate(
    forge: Forge,
    config: LabConfig,
    worktree: Path,
    pristine: Mapping[str, bytes],
    repeats: int,
) -> Evaluation:
    """Restore the pristine evaluator into ``worktree``, then run it ``repeats`` times.

    Stops at the first failed run: a candidate that crashes once is not measured further.
    """
    restore(worktree, pristine)
    scratch = Path(tempfile.mkdtemp(prefix="forge-eval-"))
    try:
        _client_dir(scratch)
        runs: list[EvalRun] = []
        for repeat in range(1, repeats + 1):
            run = run_once(forge, config, worktree, scratch, repeat)
            runs.append(run)
            if run.error:
                break
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summarize(runs, config.metric)


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    m = evaluation.measure
    return {
        "ok": evaluation.ok,
        "error": evaluation.error,
        "metric": evaluation.metric,
        "mean": m.mean if m else None,
        "std": m.std if m else None,
        "samples": list(m.samples) if m else [],
        "metrics": dict(evaluation.metrics),
        "runs": [
            {"returncode": r.returncode, "timed_out": r.timed_out, "duration_s": r.duration}
            for r in evaluation.runs
        ],
    }
