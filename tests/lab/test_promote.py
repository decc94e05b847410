"""`forge lab promote`: the lab's best merged into its target, with the project's tests and reviewers."""

from __future__ import annotations

import json
from typing import Any

from leanforge.agent.fake_server import Reply, reply, tool_use


def verdict(approve: bool, blockers: list[dict[str, str]] | None = None) -> Reply:
    return reply(
        [
            tool_use(
                "submit_verdict",
                {"approve": approve, "blockers": blockers or [], "notes": "read algo.py"},
            )
        ]
    )


def tip(lab: Any, ref: str = "main") -> str:
    return str(lab.git("rev-parse", ref).strip())


def keep_one(lab: Any) -> dict[str, Any]:
    """Run one experiment that halves STEPS and is kept."""
    lab.experiment(lab.algo(50), "halve STEPS")
    result: dict[str, Any] = lab.run("-n", "1")
    assert [r["status"] for r in result["rows"]] == ["kept"], result
    return result


def test_promote_merges_the_best_with_trailers(lab: Any) -> None:
    """Not run yet: a usage error; after a kept experiment, the best is merged."""
    early = lab.forge("lab", "promote", "speed", "--json")
    assert early.returncode == 2, early.stderr
    assert "lab speed has not run yet" in early.stderr
    assert "Traceback" not in early.stderr
    before = tip(lab)
    keep_one(lab)
    done = lab.forge("lab", "promote", "speed", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["name"] == "speed" and out["target"] == "main"
    assert out["best_id"] == 1 and out["mean"] == 50.0 and out["baseline"] == 100.0
    assert out["tests"] == "the project's tests: exit code 0"
    assert out["verdicts"] == []
    assert tip(lab) == out["commit"]
    parents = lab.git("rev-list", "--parents", "-n", "1", "main").split()
    assert parents[1:] == [before, tip(lab, "forge/lab/speed")]
    message = lab.git("log", "-1", "--format=%B", "main")
    assert message.startswith("forge: promote lab speed (steps 100 -> 50)")
    trailers = lab.git("log", "-1", "--format=%(trailers:only,unfold)", "main").split("\n")
    lock = lab.record()["lock_sha256"]
    assert "Forge-Lab: speed" in trailers
    assert f"Forge-Lock: sha256:{lock}" in trailers
    assert "Forge-Metric: steps=50 (baseline 100, experiment 1)" in trailers
    assert (lab.root / "algo.py").read_text().startswith("STEPS = 50\n")
    assert lab.git("status", "--porcelain", "--untracked-files=no") == ""


def test_promote_with_nothing_kept_is_a_usage_error(lab: Any) -> None:
    lab.experiment(lab.algo(120), "more steps")
    result = lab.run("-n", "1")
    assert [r["status"] for r in result["rows"]] == ["discarded"]
    before = tip(lab)
    done = lab.forge("lab", "promote", "speed")
    assert tip(lab) == before
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "nothing to" in done.stderr, done.stderr
    # Nothing kept is bad input, like "not run yet": a usage error (exit 2).
    assert done.returncode == 2, done.stderr


def test_a_rejecting_reviewer_blocks_the_promotion(lab: Any) -> None:
    keep_one(lab)
    before = tip(lab)
    lab.route("reviewer/correctness", verdict(True))
    lab.route(
        "reviewer/spec-conformance",
        verdict(
            False,
            [
                {
                    "title": "STEPS no longer matches the spec",
                    "detail": "the spec says 100",
                    "counterexample": "algo.STEPS == 50",
                }
            ],
        ),
    )
    done = lab.forge("lab", "promote", "speed", "--reviewers", "2", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not every reviewer approved" in done.stderr
    assert "spec-conformance: STEPS no longer matches the spec" in done.stderr
    assert "nothing was merged" in done.stderr
    assert "Traceback" not in done.stderr
    assert tip(lab) == before
    assert (lab.root / "algo.py").read_text().startswith("STEPS = 100\n")
    assert len(lab.requests("reviewer")) == 2
    # The reviewers saw the lab's diff and results.
    prompts = [lab.prompt(r) for r in lab.requests("reviewer")]
    assert all("STEPS = 50" in p and "halve STEPS" in p for p in prompts)


def test_failing_project_tests_refuse_the_promotion(lab: Any) -> None:
    (lab.root / "tests" / "test_steps.py").write_text(
        "import algo\n\n\ndef test_enough_steps():\n    assert algo.STEPS >= 60\n"
    )
    lab.git("add", "tests/test_steps.py")
    lab.git(
        "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "steps"
    )
    keep_one(lab)
    before = tip(lab)
    done = lab.forge("lab", "promote", "speed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the project's tests fail on the merged tree" in done.stderr
    assert "nothing was merged" in done.stderr
    assert tip(lab) == before
    assert (lab.root / "algo.py").read_text().startswith("STEPS = 100\n")
    assert lab.requests("reviewer") == []
