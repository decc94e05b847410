"""The metric channel: parsing reports, and real evaluator runs through the Forge executor."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

import leanforge.lab as client
from leanforge.context import Forge, open_forge
from leanforge.git.worktree import create_worktree
from leanforge.lab.evaluate import Evaluation, _client_dir, evaluate, parse_reports, run_once
from leanforge.lab.setup import LabConfig

EVAL_PATH = "bench/evaluate.py"

# -- parse_reports (pure) -----------------------------------------------------------------


def test_parse_one_report() -> None:
    metrics, error = parse_reports(b'{"metrics": {"steps": 3, "calls": 1.5}}\n', "steps")
    assert error == "" and metrics == {"steps": 3.0, "calls": 1.5}
    assert isinstance(metrics["steps"], float)
    # Blank lines around the one report do not count as reports.
    assert parse_reports(b'\n{"metrics": {"steps": 2}}\n\n', "steps") == ({"steps": 2.0}, "")


def test_parse_no_report() -> None:
    metrics, error = parse_reports(b"", "steps")
    assert metrics is None
    assert "reported no metrics" in error and "report(NAME=value)" in error
    assert parse_reports(b"\n  \n", "steps")[0] is None


def test_parse_two_reports_rejected() -> None:
    line = b'{"metrics": {"steps": 3}}\n'
    metrics, error = parse_reports(line + line, "steps")
    assert metrics is None
    assert "got 2 reports" in error and "exactly one" in error


def test_parse_not_json() -> None:
    metrics, error = parse_reports(b"steps: 3\n", "steps")
    assert metrics is None and "'steps: 3', not JSON" in error
    metrics, error = parse_reports(b"[1, 2]\n", "steps")
    assert metrics is None and 'no "metrics" object' in error
    metrics, error = parse_reports(b'{"steps": 3}\n', "steps")
    assert metrics is None and 'no "metrics" object' in error


def test_parse_missing_metric() -> None:
    metrics, error = parse_reports(b'{"metrics": {"calls": 1}}\n', "steps")
    assert metrics is None
    assert error == "the evaluator reported calls but not the lab's metric 'steps'"
    metrics, error = parse_reports(b'{"metrics": {}}\n', "steps")
    assert metrics is None and "reported none but not" in error


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_parse_non_finite(value: str) -> None:
    metrics, error = parse_reports(f'{{"metrics": {{"steps": {value}}}}}\n'.encode(), "steps")
    assert metrics is None and "must be finite" in error


@pytest.mark.parametrize("value", ["true", "false", '"3"', "null", "[3]"])
def test_parse_non_numbers(value: str) -> None:
    metrics, error = parse_reports(f'{{"metrics": {{"steps": {value}}}}}\n'.encode(), "steps")
    assert metrics is None and "not a number" in error


def test_parse_oversized() -> None:
    data = b'{"metrics": {"steps": 3}}' + b" " * client.REPORT_LIMIT
    metrics, error = parse_reports(data, "steps")
    assert metrics is None and "at most" in error


# -- the client ---------------------------------------------------------------------------


def test_report_by_hand_prints_to_stderr_and_exits_0(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != client.CHANNEL_ENV}
    done = subprocess.run(
        [sys.executable, "-c", "from leanforge.lab import report; report(steps=3, calls=1)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "not recorded" in done.stderr
    assert '{"metrics": {"calls": 1.0, "steps": 3.0}}' in done.stderr


def test_report_refuses_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(client.CHANNEL_ENV, raising=False)
    with pytest.raises(client.ChannelError, match="is True, not a number"):
        client.report(steps=True)
    with pytest.raises(client.ChannelError, match="must be finite"):
        client.report(steps=float("nan"))
    with pytest.raises(client.ChannelError, match="at least one metric"):
        client.report()
    monkeypatch.setenv(client.CHANNEL_ENV, "abc")
    with pytest.raises(client.ChannelError, match="is not a file descriptor number"):
        client.report(steps=1.0)


# -- real runs ----------------------------------------------------------------------------

FAKE_SCORE = """\
import sys
from leanforge.lab import report
print("steps: 1")
print('{"metrics": {"steps": 1}}')
sys.stderr.write('{"metrics": {"steps": 1}}\\n')
report(steps=100.0)
"""

TWICE = """\
from leanforge.lab import report
report(steps=100.0)
report(steps=1.0)
"""

SNEAKY_CANDIDATE = """\
import os, sys
print("env:", os.environ.get("FORGE_LAB_FD", "absent"))
try:
    os.write(int(sys.argv[1]), b'{"metrics": {"steps": 0.0}}\\n')
    print("write: ok")
except OSError as exc:
    print("write: failed", exc.errno)
"""

PROBED = """\
import os, sys
from leanforge.lab import report, run_candidate
fd = os.environ["FORGE_LAB_FD"]
done = run_candidate([sys.executable, "bench/candidate.py", fd], timeout=60)
print(done.stdout, end="")
if done.returncode != 0:
    sys.exit(done.stderr)
report(steps=100.0)
"""

WRITES = """\
from leanforge.lab import report
open("scribble.txt", "w").write("x")
report(steps=100.0)
"""

SLOW = """\
import time
time.sleep(30)
"""


@pytest.fixture
def repo(small_repo: Callable[..., Path]) -> Path:
    return small_repo()


def forge_at(root: Path, sandbox: str) -> Forge:
    env = {**os.environ, "FORGE_SANDBOX": sandbox}
    env.pop(client.CHANNEL_ENV, None)
    return open_forge(root, env=env, warn=lambda _: None)


def config(timeout: float = 60.0) -> LabConfig:
    return LabConfig(
        name="speed",
        eval=f"python {EVAL_PATH}",
        metric="steps",
        direction="min",
        edit=("algo.py",),
        evaluator=(EVAL_PATH,),
        timeout=timeout,
    )


def worktree_of(forge: Forge, slug: str = "lab-speed-t") -> Path:
    commit = forge.repo.head.peel(pygit2.Commit)
    return create_worktree(forge.repo, forge.paths, slug, commit)


def run_evaluator(
    root: Path,
    sandbox: str,
    source: str,
    *,
    extra: dict[str, bytes] | None = None,
    timeout: float = 60.0,
    repeats: int = 1,
    slug: str = "lab-speed-t",
) -> tuple[Evaluation, Path]:
    forge = forge_at(root, sandbox)
    worktree = worktree_of(forge, slug)
    pristine = {EVAL_PATH: source.encode(), **(extra or {})}
    return evaluate(forge, config(timeout), worktree, pristine, repeats), worktree


def test_fake_score_on_stdout_is_ignored(repo: Path) -> None:
    evaluation, _ = run_evaluator(repo, "none", FAKE_SCORE, repeats=2)
    assert evaluation.ok, evaluation.error
    assert evaluation.measure is not None
    assert evaluation.measure.mean == 100.0 and evaluation.measure.samples == (100.0, 100.0)
    assert len(evaluation.runs) == 2
    assert "steps: 1" in evaluation.runs[0].stdout
    assert '{"metrics": {"steps": 1}}' in evaluation.runs[0].stderr


def test_two_reports_fail_the_run(repo: Path) -> None:
    evaluation, _ = run_evaluator(repo, "none", TWICE, repeats=3)
    assert not evaluation.ok and evaluation.measure is None
    assert "got 2 reports" in evaluation.error
    # The first failed run stops the candidate's measurement.
    assert len(evaluation.runs) == 1


def test_run_once_reads_a_fresh_channel_per_run(repo: Path) -> None:
    forge = forge_at(repo, "none")
    worktree = worktree_of(forge)
    (worktree / "bench").mkdir()
    (worktree / EVAL_PATH).write_text(FAKE_SCORE)
    scratch = Path(tempfile.mkdtemp(prefix="forge-test-"))
    _client_dir(scratch)
    first = run_once(forge, config(), worktree, scratch)
    second = run_once(forge, config(), worktree, scratch)
    assert first.metrics == {"steps": 100.0} and second.metrics == {"steps": 100.0}
    assert first.error == "" and first.returncode == 0 and not first.timed_out
    assert len(list(scratch.glob("channel-*"))) == 2


def test_candidate_cannot_reach_the_channel(repo: Path) -> None:
    evaluation, _ = run_evaluator(
        repo, "none", PROBED, extra={"bench/candidate.py": SNEAKY_CANDIDATE.encode()}
    )
    assert evaluation.ok, evaluation.error
    assert evaluation.measure is not None and evaluation.measure.mean == 100.0
    out = evaluation.runs[0].stdout
    assert "env: absent" in out
    assert "write: failed 9" in out  # EBADF: the descriptor is not open in the child
    assert "write: ok" not in out


def test_timeout_is_an_error(repo: Path) -> None:
    evaluation, _ = run_evaluator(repo, "none", SLOW, timeout=1.0)
    assert not evaluation.ok
    assert evaluation.runs[0].timed_out
    assert evaluation.error == "the evaluator timed out after 1 s"


def test_nonzero_exit_is_an_error_even_after_a_report(repo: Path) -> None:
    source = (
        "import sys\nfrom leanforge.lab import report\nreport(steps=1.0)\nsys.exit('gave up')\n"
    )
    evaluation, _ = run_evaluator(repo, "none", source)
    assert not evaluation.ok and evaluation.measure is None
    assert evaluation.error == "the evaluator exited with status 1: gave up"


@pytest.mark.bwrap
def test_bwrap_fake_score_and_candidate(repo: Path) -> None:
    evaluation, _ = run_evaluator(
        repo, "bwrap", PROBED, extra={"bench/candidate.py": SNEAKY_CANDIDATE.encode()}
    )
    assert evaluation.ok, evaluation.error
    assert evaluation.measure is not None and evaluation.measure.mean == 100.0
    assert "env: absent" in evaluation.runs[0].stdout
    assert "write: failed" in evaluation.runs[0].stdout


@pytest.mark.bwrap
def test_bwrap_worktree_is_read_only(repo: Path) -> None:
    evaluation, worktree = run_evaluator(repo, "bwrap", WRITES)
    assert not evaluation.ok
    assert "Read-only file system" in evaluation.error
    assert not (worktree / "scribble.txt").exists()
    # Without the sandbox the same evaluator succeeds, so bwrap is what stopped it.
    unboxed, worktree = run_evaluator(repo, "none", WRITES, slug="lab-speed-u")
    assert unboxed.ok, unboxed.error
    assert (worktree / "scribble.txt").read_text() == "x"


@pytest.mark.bwrap
def test_bwrap_evaluator_has_a_writable_home_and_tmpdir(repo: Path) -> None:
    source = (
        "import os, tempfile\n"
        "from pathlib import Path\n"
        "from leanforge.lab import report\n"
        "Path(os.environ['HOME'], 'cache').write_text('x')\n"
        "with tempfile.NamedTemporaryFile() as handle:\n"
        "    handle.write(b'x')\n"
        "report(steps=7.0)\n"
    )
    evaluation, _ = run_evaluator(repo, "bwrap", source)
    assert evaluation.ok, evaluation.error
    assert evaluation.metrics == {"steps": 7.0}


@pytest.mark.bwrap
def test_bwrap_two_reports_fail(repo: Path) -> None:
    evaluation, _ = run_evaluator(repo, "bwrap", TWICE)
    assert "got 2 reports" in evaluation.error
