"""`forge lab run` end to end: forge as a subprocess, a local Messages server, real git, the sandbox.

Each test scripts the lab's agents (worker, director, critic) through the fixture ``lab`` (see
conftest.py) and checks what a run leaves behind: the results rows, the lab record, the lab
branch, the archive refs, the worker prompts and the requests the model server saw.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import time
from collections.abc import Callable
from typing import Any

from leanforge.agent.fake_server import Reply, reply, tool_use

HEADER = re.compile(r"^# Lab `speed`, experiment (\d+)", re.MULTILINE)


def first_text(body: dict[str, Any]) -> str:
    """The first user message of a request body (the session's task prompt)."""
    content = body["messages"][0]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")


def number_of(body: dict[str, Any]) -> int:
    """The experiment number a worker request belongs to, from its task prompt."""
    found = HEADER.search(first_text(body))
    assert found, first_text(body)[:300]
    return int(found.group(1))


def worker_requests(lab: Any, number: int) -> list[Any]:
    return [r for r in lab.requests("lab_worker") if number_of(r.body) == number]


def bash(command: str) -> Reply:
    return reply([tool_use("bash", {"command": command})])


def tool_results(request: Any) -> str:
    """The tool results the last user message of ``request`` carries, as JSON text."""
    return json.dumps(request.body["messages"][-1]["content"])


def leftovers(lab: Any) -> tuple[list[str], str]:
    """Worktrees and temporary experiment branches still present."""
    worktrees = lab.root / ".git" / "forge-worktrees"
    left = sorted(p.name for p in worktrees.iterdir()) if worktrees.is_dir() else []
    branches = lab.git("branch", "--list", "forge/lab-speed-*").strip()
    return left, branches


def is_ancestor(lab: Any, commit: str, of: str) -> bool:
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, of], cwd=lab.root, capture_output=True
    )
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


# -- 1. keep and discard ---------------------------------------------------------------------


def test_improvement_kept_regression_discarded_and_archived(lab: Any) -> None:
    main_before = lab.git("rev-parse", "main").strip()
    lab.experiment(lab.algo(50), "halve the steps")
    lab.experiment(lab.algo(80), "a regression")
    out = lab.run("-n", "2")

    rows = lab.rows()
    assert [r["id"] for r in rows] == [0, 1, 2], rows
    assert [r["status"] for r in rows] == ["baseline", "kept", "discarded"], rows
    base, kept, lost = rows
    assert base["mean"] == 100.0 and kept["mean"] == 50.0 and lost["mean"] == 80.0
    assert kept["kept"] is True and lost["kept"] is False
    assert out["best"]["id"] == 1 and out["best"]["mean"] == 50.0
    assert [r["id"] for r in out["rows"]] == [1, 2]

    # The lab branch holds the kept commit, whose algo.py has the kept change.
    tip = lab.git("rev-parse", "forge/lab/speed").strip()
    assert tip == kept["commit"] == out["best"]["commit"] == lab.record()["best"]["commit"]
    assert "STEPS = 50\n" in lab.git("show", "forge/lab/speed:algo.py")
    assert kept["parent"] == base["commit"] == main_before

    # The discarded experiment is archived: its ref, its parent (the best then), its diff.
    archived = lab.git("rev-parse", "refs/forge/lab/speed/exp-2").strip()
    assert lost["ref"] == "refs/forge/lab/speed/exp-2"
    assert archived == lost["experiment_commit"]
    assert lab.git("rev-parse", "refs/forge/lab/speed/exp-2^").strip() == lost["parent"] == tip
    diff = lab.git("diff", "refs/forge/lab/speed/exp-2^", "refs/forge/lab/speed/exp-2")
    assert "-STEPS = 50" in diff and "+STEPS = 80" in diff, diff
    assert lab.git("rev-parse", "refs/forge/lab/speed/exp-1").strip() == kept["experiment_commit"]
    assert not is_ancestor(lab, archived, "forge/lab/speed")

    # The user's branch and checkout are untouched.
    assert lab.git("rev-parse", "main").strip() == main_before
    assert "STEPS = 100\n" in (lab.root / "algo.py").read_text()
    assert leftovers(lab) == ([], "")


# -- 2. crashes and fix chains ---------------------------------------------------------------

SYNTAX_ERROR = "STEPS = 90\n\n\ndef run(:\n    return 42\n"
WRONG_ANSWER = "STEPS = 90\n\n\ndef run():\n    return 41\n"


def test_crash_is_recorded_and_the_next_worker_fixes_it_within_the_limit(lab: Any) -> None:
    lab.experiment(SYNTAX_ERROR, "a broken idea")
    # Fix attempt 1: look at the worktree, then write a version with the wrong answer.
    lab.route("lab_worker", bash("cat algo.py"), lab.write_algo(WRONG_ANSWER), lab.submit("fix 1"))
    # Fix attempt 2 (the limit, max_fix_attempts = 2): crashes again.
    lab.experiment(WRONG_ANSWER.replace("41", "40"), "fix 2")
    # Past the limit: back to the best.
    lab.route("lab_worker", bash("cat algo.py"), lab.write_algo(lab.algo(70)), lab.submit("fresh"))
    lab.run("-n", "4")

    rows = lab.rows()
    assert [r["status"] for r in rows] == ["baseline", "crashed", "crashed", "crashed", "kept"], (
        rows
    )
    base, one, two, three, four = rows
    assert one["mean"] is None and one["samples"] == [] and one["kept"] is False
    assert "SyntaxError" in one["error"], one["error"]
    assert "wrong answer" in two["error"] and "41" in two["error"], two["error"]
    assert two["mean"] is None and three["mean"] is None
    assert (one["fix_of"], one["fix_depth"], one["parent"]) == (0, 0, base["commit"])
    assert (two["fix_of"], two["fix_depth"]) == (1, 1)
    assert two["parent"] == one["experiment_commit"]
    assert (three["fix_of"], three["fix_depth"]) == (2, 2)
    assert three["parent"] == two["experiment_commit"]
    assert (four["fix_of"], four["fix_depth"]) == (0, 0)
    assert four["parent"] == base["commit"]
    assert four["mean"] == 70.0

    # The fixing worker is told about the crash, and its worktree holds the crashed change.
    prompt2 = first_text(worker_requests(lab, 2)[0].body)
    assert "experiment 1 crashed" in prompt2 and "SyntaxError" in prompt2, prompt2
    assert "fix attempt 1 of 2" in prompt2
    assert "def run(:" in tool_results(worker_requests(lab, 2)[1])
    prompt3 = first_text(worker_requests(lab, 3)[0].body)
    assert "experiment 2 crashed" in prompt3 and "return 42, got ['41']" in prompt3
    assert "fix attempt 2 of 2" in prompt3
    # After max_fix_attempts, the next worker starts from the best and is not asked to fix.
    prompt4 = first_text(worker_requests(lab, 4)[0].body)
    assert "## First: experiment" not in prompt4 and "Your worktree holds" not in prompt4
    assert "fix attempt" not in prompt4 and "starts from the best code" in prompt4
    seen = tool_results(worker_requests(lab, 4)[1])
    assert "STEPS = 100" in seen and "return 42" in seen and "def run(:" not in seen
    assert lab.git("rev-parse", "forge/lab/speed").strip() == four["commit"]


# -- 3. the lock -----------------------------------------------------------------------------


def test_changed_locked_parts_refuse_to_run_before_any_model_call(lab: Any) -> None:
    toml = lab.root / ".forge" / "labs" / "speed" / "lab.toml"
    changes: list[tuple[str, Callable[[str], str], str]] = [
        ("bench/evaluate.py", lambda s: s.replace("calls=1.0", "calls=2.0"), "bench/evaluate.py"),
        ("bench/noise.txt", lambda s: "0.25\n", "bench/noise.txt"),
        (str(toml.relative_to(lab.root)), lambda s: s.replace('"steps"', '"calls"', 1), "metric"),
    ]
    for path, change, named in changes:
        target = lab.root / path
        original = target.read_text()
        changed = change(original)
        assert changed != original, path
        target.write_text(changed)
        done = lab.forge("lab", "run", "speed", "-n", "1")
        target.write_text(original)
        assert done.returncode == 2, (path, done.returncode, done.stderr)
        assert named in done.stderr and "changed" in done.stderr, done.stderr
        assert "lab.toml" in done.stderr or path != str(toml.relative_to(lab.root))
    assert lab.server.requests == []
    assert lab.rows() == []
    assert "best" not in lab.record() or lab.record()["best"] is None

    # Restored, the same lab runs.
    lab.experiment(lab.algo(60))
    out = lab.run("-n", "1")
    assert out["best"]["mean"] == 60.0


# -- 4. scope --------------------------------------------------------------------------------

FAKE_EVALUATOR = "from leanforge.lab import report\nreport(steps=0.0)\n"


def test_edits_outside_the_scope_are_rejected_unmeasured(lab: Any) -> None:
    evaluator = (lab.root / "bench" / "evaluate.py").read_bytes()
    lab.route(
        "lab_worker",
        lab.write_algo(lab.algo(10)),
        lab.write_file("bench/evaluate.py", FAKE_EVALUATOR),
        lab.submit("a friendlier evaluator"),
    )
    lab.route(
        "lab_worker",
        lab.write_algo(lab.algo(20)),
        lab.write_file("helper.py", "X = 1\n"),
        lab.submit("a helper module"),
    )
    out = lab.run("-n", "2")

    rows = lab.rows()
    assert [r["status"] for r in rows] == ["baseline", "rejected", "rejected"], rows
    _, one, two = rows
    assert "bench/evaluate.py" in one["error"] and "outside --edit" in one["error"], one
    assert "helper.py" in two["error"] and "algo.py" not in two["error"].split(":")[-1], two
    for row in (one, two):
        assert row["mean"] is None and row["samples"] == [] and row["metrics"] == {}
        assert row["kept"] is False
        assert lab.git("rev-parse", row["ref"]).strip() == row["experiment_commit"]
    assert out["best"]["id"] == 0 and out["best"]["mean"] == 100.0
    assert lab.git("rev-parse", "forge/lab/speed").strip() == rows[0]["commit"]
    assert (lab.root / "bench" / "evaluate.py").read_bytes() == evaluator
    assert not (lab.root / "helper.py").exists()


# -- 5. the metric channel -------------------------------------------------------------------

SPOOF = """import atexit
import os
import sys

FAKES = ['{"metric": 0}', '{"steps": 0}', '{"metrics": {"steps": 0}}']


def spoof(to_stdout):
    for line in FAKES:
        if to_stdout:
            print(line, flush=True)
        print(line, file=sys.stderr, flush=True)
        for fd in range(3, 31):
            try:
                os.write(fd, (line + "\\n").encode())
            except OSError:
                pass


spoof(False)
atexit.register(spoof, True)

STEPS = 100


def run():
    spoof(False)
    return 42
"""


def test_printed_or_written_fake_metrics_do_not_count(lab: Any) -> None:
    lab.experiment(SPOOF, "report a better number")
    lab.run("-n", "1")

    rows = lab.rows()
    assert [r["status"] for r in rows] == ["baseline", "discarded"], rows
    row = rows[1]
    assert row["kept"] is False and row["error"] == ""
    assert row["mean"] == 100.0 and row["samples"] == [100.0]
    assert row["metrics"] == {"calls": 1.0, "steps": 100.0}
    assert lab.record()["best"]["id"] == 0
    assert "FAKES = [" in lab.git("show", f"{row['experiment_commit']}:algo.py")


# -- 6. stopping conditions ------------------------------------------------------------------


def test_stop_after_n(lab: Any) -> None:
    for steps in (90, 80, 70):
        lab.experiment(lab.algo(steps))
    out = lab.run("-n", "2")
    assert out["stop"] == "ran 2 experiment(s) (-n)"
    assert [r["id"] for r in lab.rows()] == [0, 1, 2]
    assert out["best"]["mean"] == 80.0
    assert lab.server.pending == 2  # the third session was never started
    assert len(lab.requests("lab_worker")) == 4


def test_stop_on_plateau(lab_factory: Any) -> None:
    # min_delta = 1: a gain of 0.2 is within the (deterministic) noise floor, so no gain.
    lab = lab_factory(min_delta=1.0, director_every=0, critic_every=0)
    lab.experiment("STEPS = 99.8\n\n\ndef run():\n    return 42\n", "a hair fewer steps")
    for steps in (120, 130, 140):
        lab.experiment(lab.algo(steps))
    out = lab.run("--plateau", "2")
    assert out["stop"] == "plateau: 2 experiment(s) in a row without a gain", out["stop"]
    rows = lab.rows()
    assert [r["status"] for r in rows] == ["baseline", "discarded", "discarded"], rows
    assert rows[1]["mean"] == 99.8
    assert "within the noise floor 1" in rows[1]["decision"], rows[1]["decision"]
    assert rows[2]["mean"] == 120.0 and "not better" in rows[2]["decision"]
    assert lab.server.pending == 4
    assert out["best"]["id"] == 0
    assert lab.git("rev-parse", "forge/lab/speed").strip() == rows[0]["commit"]


def test_stop_on_target(lab: Any) -> None:
    lab.experiment(lab.algo(50))
    lab.experiment(lab.algo(40))
    out = lab.run("--target", "60", "-n", "5")
    assert out["stop"] == "target reached (50)", out["stop"]
    assert [r["status"] for r in lab.rows()] == ["baseline", "kept"]
    assert lab.server.pending == 2


def test_stop_on_cost(lab: Any) -> None:
    # 1M input tokens at the default model's $2/M: $2 per reply, $4 per experiment.
    dear = {"input_tokens": 1_000_000, "output_tokens": 0}
    for steps in (90, 80):
        lab.route(
            "lab_worker",
            dataclasses.replace(lab.write_algo(lab.algo(steps)), usage=dear),
            dataclasses.replace(lab.submit(), usage=dear),
        )
    out = lab.run("--max-cost", "3", "-n", "5")
    assert out["stop"].startswith("cost cap reached"), out["stop"]
    assert "$4.0000 of $3.00" in out["stop"]
    assert out["spent_usd"] == 4.0
    assert lab.record()["spent_usd"] == 4.0
    rows = lab.rows()
    assert [r["status"] for r in rows] == ["baseline", "kept"]
    assert rows[1]["cost_usd"] == 4.0
    assert lab.server.pending == 2

    # A cap smaller than one reply stops the worker mid-session; what it cost is still counted.
    out = lab.run("--max-cost", "1", "-n", "5")
    assert out["stop"] == "cost cap reached (--max-cost)", out["stop"]
    assert out["spent_usd"] == 2.0
    assert lab.record()["spent_usd"] == 6.0
    row = lab.rows()[-1]
    assert (row["id"], row["status"], row["kept"], row["mean"]) == (2, "failed", False, None)
    assert "cost cap" in row["error"] and row["cost_usd"] == 2.0, row
    assert lab.server.pending == 1  # the submit reply was never requested
    assert lab.record()["best"]["id"] == 1


# -- 7. resume -------------------------------------------------------------------------------


def test_resume_after_kill_keeps_numbering_and_best(lab: Any) -> None:
    lab.experiment(lab.algo(50), "halve")
    lab.route("lab_worker", dataclasses.replace(lab.write_algo(lab.algo(45)), delay=20))
    proc = lab.start("lab", "run", "speed", "-n", "3", "--json")
    try:
        deadline = time.monotonic() + 60
        while len(lab.requests("lab_worker")) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second worker never asked the model"
            time.sleep(0.05)
        assert number_of(lab.requests("lab_worker")[2].body) == 2
    finally:
        proc.kill()
        proc.communicate()
    assert [r["id"] for r in lab.rows()] == [0, 1]
    state = json.loads((lab.state / "experiments" / "2.json").read_text())
    assert state["phase"] == "working"
    assert lab.record()["best"]["id"] == 1
    assert (lab.root / ".git" / "forge-worktrees" / "lab-speed-2").is_dir()
    assert "forge/lab-speed-2" in lab.git("branch", "--list", "forge/lab-speed-*")

    lab.experiment(lab.algo(80), "resumed two")
    lab.experiment(lab.algo(90), "three")
    out = lab.run("-n", "2")

    rows = lab.rows()
    assert [r["id"] for r in rows] == [0, 1, 2, 3], rows
    assert [r["status"] for r in rows] == ["baseline", "kept", "discarded", "discarded"]
    assert rows[2]["hypothesis"] == "resumed two" and rows[2]["mean"] == 80.0
    assert rows[3]["hypothesis"] == "three" and rows[3]["mean"] == 90.0
    assert rows[2]["parent"] == rows[1]["commit"]
    assert [number_of(r.body) for r in lab.requests("lab_worker")[3:]] == [2, 2, 3, 3]
    assert out["best"]["id"] == 1 and out["best"]["mean"] == 50.0
    assert lab.git("rev-parse", "forge/lab/speed").strip() == rows[1]["commit"]
    assert lab.record()["next_id"] == 4
    assert sum(1 for r in rows if r["status"] == "baseline") == 1
    assert leftovers(lab) == ([], "")


# -- 8. jobs ---------------------------------------------------------------------------------


def test_two_jobs_overlap(lab: Any) -> None:
    target = {1: 60, 2: 70}

    def step(body: dict[str, Any]) -> Reply:
        number = number_of(body)
        if len(body["messages"]) == 1:
            first: Reply = lab.write_algo(lab.algo(target[number]))
            return dataclasses.replace(first, delay=1.5)
        final: Reply = lab.submit(f"experiment {number}")
        return final

    lab.route("lab_worker", *[step] * 4)
    out = lab.run("-n", "2", "-j", "2")

    got = lab.requests("lab_worker")
    firsts = [r for r in got if len(r.body["messages"]) == 1]
    seconds = [r for r in got if len(r.body["messages"]) > 1]
    assert sorted(number_of(r.body) for r in firsts) == [1, 2]
    assert len(seconds) == 2
    assert max(r.at for r in firsts) < min(r.at for r in seconds), "the workers did not overlap"

    rows = lab.rows()
    assert sorted(r["id"] for r in rows) == [0, 1, 2], rows
    by_id = {r["id"]: r for r in rows}
    assert by_id[1]["mean"] == 60.0 and by_id[2]["mean"] == 70.0
    assert by_id[1]["status"] == "kept"
    # Whichever finished first, the best is 60 and the lab branch's tree is experiment 1's.
    assert out["best"]["mean"] == 60.0 and out["best"]["id"] == 1
    assert "STEPS = 60\n" in lab.git("show", "forge/lab/speed:algo.py")
    for number in (1, 2):
        assert lab.git("rev-parse", f"refs/forge/lab/speed/exp-{number}").strip()
    assert leftovers(lab) == ([], "")


# -- 9. noise --------------------------------------------------------------------------------


def test_noise_floor(lab_factory: Any) -> None:
    """A noise-level "gain" is measured as better but not kept; a real gain is kept.

    The evaluator's noise is seeded by FORGE_LAB_REPEAT and the candidate, so the draws are
    the same on every test run: STEPS = 99.5 measures 0.74 better than the baseline, inside
    its noise floor of 0.8 (2 standard deviations of 3 runs, sigma 0.5).
    """
    lab = lab_factory(noise=0.5, repeats=3, director_every=0, critic_every=0)
    lab.experiment("STEPS = 99.5\n\n\ndef run():\n    return 42\n", "a hair fewer steps")
    lab.experiment(lab.algo(50), "halve")
    lab.run("-n", "2")

    base, near, half = lab.rows()
    assert base["status"] == "baseline" and len(base["samples"]) == 3 and base["std"] > 0
    assert len(set(base["samples"])) == 3  # three different draws, one per repeat
    assert len(near["samples"]) == 3 and near["std"] > 0
    assert 0 < base["mean"] - near["mean"] < 2 * max(base["std"], near["std"])
    assert near["status"] == "discarded" and not near["kept"], near
    assert "within the noise floor" in near["decision"], near["decision"]
    assert half["status"] == "kept" and len(half["samples"]) == 3
    assert lab.record()["best"]["id"] == 2


# -- 10. director and critic -----------------------------------------------------------------


def test_director_and_critic_cadence_across_runs(lab_factory: Any) -> None:
    lab = lab_factory(director_every=2, critic_every=3)
    lab.route("lab_director", lab.notes("NOTES-ONE: try 60"), lab.notes("NOTES-TWO: try 40"))
    lab.route("lab_critic", lab.critique("CRITIQUE-ONE: gains are real"))
    lab.experiment(lab.algo(90))
    lab.run("-n", "1")
    assert lab.requests("lab_director") == [] and lab.requests("lab_critic") == []

    for steps in (80, 70, 60):
        lab.experiment(lab.algo(steps))
    lab.run("-n", "3")

    assert [r["id"] for r in lab.rows()] == [0, 1, 2, 3, 4]
    assert len(lab.requests("lab_director")) == 2
    assert len(lab.requests("lab_critic")) == 1
    record = lab.record()
    assert record["notes"] == "NOTES-TWO: try 40" and record["notes_after"] == 4
    assert record["critique"] == "CRITIQUE-ONE: gains are real" and record["critique_after"] == 3
    assert lab.server.pending == 0

    # Each worker sees the advice given before it started, and none given after.
    prompts = {n: first_text(worker_requests(lab, n)[0].body) for n in (1, 2, 3, 4)}
    assert "NOTES-" not in prompts[1] and "NOTES-" not in prompts[2]
    assert "NOTES-ONE" in prompts[3] and "CRITIQUE-ONE" not in prompts[3]
    assert "NOTES-ONE" in prompts[4] and "CRITIQUE-ONE" in prompts[4]
    # The director after #4 was shown all four experiments.
    director_prompt = first_text(lab.requests("lab_director")[1].body)
    assert all(f"#{n}" in director_prompt for n in (1, 2, 3, 4)), director_prompt
