"""Acceptance: two tasks from one base, built concurrently or one after the other."""

from __future__ import annotations

from typing import Any

import pygit2

SUB_TEST = "from calc_sub import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
SUB = "def sub(a, b):\n    return a - b\n"
MUL_TEST = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
#: Task "mul" rewrites the same line task "fix-add" fixes, so the two conflict.
MUL_ON_BASE = (
    "def add(a, b):\n    return a - b  # kept as is\n\n\ndef mul(a, b):\n    return a * b\n"
)
RESOLVED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
LENSES = ("correctness", "spec-conformance", "security")


def approve_everything(p: Any) -> None:
    for lens in LENSES:
        p.serve(f"reviewer/{lens}", lambda body: p.verdict())
    p.serve("tech_lead", lambda body: p.playbook())


def gate_runs(p: Any, slug: str) -> int:
    return len(list((p.root / f".git/forge/tasks/{slug}/gate").glob("*.json")))


def engineer_for(p: Any) -> Any:
    """One engineer policy serving both tasks: it reads which task it is on from the prompt."""
    add, sub = p.honest(), p.honest(SUB, "calc_sub.py")

    def policy(body: dict[str, Any]) -> Any:
        return sub(body) if "sub-task" in str(body["messages"][0]) else add(body)

    return policy


def test_two_tasks_built_with_j2_both_merge_and_the_second_is_regated(pipeline: Any) -> None:
    p = pipeline
    p.spec_task("sub-task", "tests/test_sub.py", SUB_TEST)
    p.serve("engineer", engineer_for(p), times=20)
    approve_everything(p)
    out = p.build("--all", "-j", "2")
    assert out["ok"], out
    assert sorted(r["outcome"] for r in out["builds"]) == ["merged", "merged"]
    repo = pygit2.Repository(str(p.root))
    tree = repo.branches.local["main"].peel(pygit2.Commit).tree
    assert tree["calc.py"].data == p.RIGHT.encode()  # type: ignore[attr-defined]
    assert tree["calc_sub.py"].data == SUB.encode()  # type: ignore[attr-defined]
    # Whichever merged second was gated again, on top of the first (and once more if the
    # first one's playbook commit landed in between).
    runs = sorted(gate_runs(p, s) for s in ("fix-add", "sub-task"))
    assert runs[0] == 1 and runs[1] >= 2
    second = next(s for s in ("fix-add", "sub-task") if gate_runs(p, s) >= 2)
    assert any("re-gated" in e["note"] for e in p.record(second)["history"])


def test_a_conflict_goes_back_to_the_engineer_who_resolves_it(pipeline: Any) -> None:
    p = pipeline
    p.spec_task("mul", "tests/test_mul.py", MUL_TEST)
    p.serve("engineer", p.honest(), times=2)
    approve_everything(p)
    assert p.build("fix-add")["ok"]
    p.route("engineer", p.write_calc(MUL_ON_BASE), p.submit("mul added"))
    p.route("engineer", p.write_calc(RESOLVED), p.submit("resolved the conflict"))
    (row,) = p.build("mul")["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 2
    assert row["attempt_log"][0]["outcome"] == "conflict"
    retry = p.prompt(p.requests("engineer")[-2])
    assert "conflict" in retry and "calc.py" in retry
    repo = pygit2.Repository(str(p.root))
    tree = repo.branches.local["main"].peel(pygit2.Commit).tree
    assert tree["calc.py"].data == RESOLVED.encode()  # type: ignore[attr-defined]


def test_the_playbook_from_task_1_reaches_task_2s_engineer(pipeline: Any) -> None:
    p = pipeline
    p.spec_task("sub-task", "tests/test_sub.py", SUB_TEST)
    p.serve("engineer", engineer_for(p), times=20)
    for lens in LENSES:
        p.serve(f"reviewer/{lens}", lambda body: p.verdict())
    p.route("tech_lead", p.playbook("# proj playbook\n\n- LESSON-ONE: add must add\n"))
    p.route(
        "tech_lead", p.playbook("# proj playbook\n\n- LESSON-ONE: add must add\n- LESSON-TWO\n")
    )
    assert p.build("fix-add")["ok"]
    assert p.build("sub-task")["ok"]
    first_sub = next(r for r in p.requests("engineer") if "sub-task" in str(r.body["messages"][0]))
    assert "LESSON-ONE" in p.prompt(first_sub)
