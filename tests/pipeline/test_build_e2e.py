"""Acceptance: `forge build` as a subprocess, the real SDK against a local Messages server."""

from __future__ import annotations

import json
from typing import Any

import pygit2
import pytest

LENSES = ("correctness", "spec-conformance", "security")


def approve_all(p: Any) -> None:
    for lens in LENSES:
        p.route(f"reviewer/{lens}", p.verdict())


def fix_steps(p: Any, source: str | None = None, summary: str = "add adds now") -> list[Any]:
    return [p.write_calc(source or p.RIGHT), p.submit(summary)]


def test_happy_path_merges_with_tests_spec_trailers_and_playbook(pipeline: Any) -> None:
    p = pipeline
    p.route("engineer", *fix_steps(p))
    approve_all(p)
    p.route("tech_lead", p.playbook())
    out = p.build(p.slug, "--reviewers", "3")
    (row,) = out["builds"]
    assert out["ok"] and row["outcome"] == "merged" and row["attempts"] == 1
    repo = pygit2.Repository(str(p.root))
    main = repo.branches.local["main"].peel(pygit2.Commit)
    # The playbook is its own commit on top of the merge.
    assert "Forge-Playbook: fix-add" in main.message
    merge = main.parents[0]
    assert len(merge.parents) == 2 and str(merge.id) == row["merged_commit"]
    assert "Forge-Task: fix-add\n" in merge.message
    record = p.record()
    assert f"Forge-Lock: sha256:{record['lock_sha256']}" in merge.message
    tree = main.tree
    assert tree["calc.py"].data == p.RIGHT.encode()  # type: ignore[attr-defined]
    assert b"def test_add" in tree["tests/test_calc.py"].data  # type: ignore[attr-defined]
    assert ".forge/specs/fix-add.md" in [e for e in _paths(repo, tree)]
    assert b"add must add" in tree[".forge/PLAYBOOK.md"].data  # type: ignore[attr-defined]
    assert "holdout/test_holdout.py" not in _paths(repo, tree)
    # The user's checkout follows the target.
    assert (p.root / "calc.py").read_text() == p.RIGHT
    assert record["status"] == "merged" and record["playbook_status"] == "committed"
    assert set(record["usage"]) == {"engineer", "reviewer", "tech_lead"}
    assert record["usage"]["reviewer"]["calls"] == 3
    (result,) = p.results()
    assert result["merged"] and result["reviewers"] == 3
    assert [v["lens"] for v in result["attempt_log"][0]["verdicts"]] != []
    # The engineer saw the spec and the locked tests, never the held-out test.
    (first, *_) = p.requests("engineer")
    prompt = p.prompt(first)
    assert "def test_add_negative" in prompt and "test_commutes" not in prompt


def _paths(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = "") -> list[str]:
    out = []
    for entry in tree:
        path = prefix + (entry.name or "")
        if entry.type_str == "tree":
            out += _paths(repo, repo[entry.id].peel(pygit2.Tree), path + "/")
        else:
            out.append(path)
    return out


def test_a_failed_gate_goes_back_to_the_engineer_who_fixes_it(pipeline: Any) -> None:
    p = pipeline
    p.route("engineer", *fix_steps(p, p.WRONG, "multiplied"), *fix_steps(p))
    approve_all(p)
    p.route("tech_lead", p.playbook())
    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 2
    first, _ = row["attempt_log"]
    assert (
        first["outcome"] == "gate failed"
        and "acceptance tests, pristine setup (pass A)" in first["failed_gate_checks"]
    )
    # Attempt 2's prompt carries attempt 1's gate failure, with the held-out names redacted.
    prompts = [p.prompt(r) for r in p.requests("engineer")]
    retry = next(text for text in prompts if "Attempt 1" in text)
    assert "gate failed" in retry and "test_add" in retry
    assert "test_commutes" not in retry and "test_holdout" not in retry
    # `forge show` tells the story too.
    shown = p.forge("show", p.slug)
    assert "attempt 1  gate failed: acceptance tests, pristine setup (pass A)" in shown.stdout
    assert "attempt 2  merged" in shown.stdout
    payload = json.loads(p.forge("show", p.slug, "--json").stdout)
    assert [a["outcome"] for a in payload["attempt_log"]] == ["gate failed", "merged"]


@pytest.mark.parametrize("cheat", ["edit the locked test"])
def test_editing_a_locked_test_is_rejected_then_honest_work_merges(
    pipeline: Any, cheat: str
) -> None:
    p = pipeline
    tamper = p.write_calc(p.WRONG)
    edit_test = {"command": "cat > tests/test_calc.py <<'PY'\ndef test_add():\n    assert True\nPY"}
    from leanforge.agent.fake_server import reply, tool_use

    p.route(
        "engineer",
        tamper,
        reply([tool_use("bash", edit_test)]),
        p.submit("tests pass now"),
        *fix_steps(p),
    )
    approve_all(p)
    p.route("tech_lead", p.playbook())
    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 2
    assert "locked tests untouched" in row["attempt_log"][0]["failed_gate_checks"]
    repo = pygit2.Repository(str(p.root))
    tree = repo.branches.local["main"].peel(pygit2.Commit).tree
    assert b"test_add_negative" in tree["tests/test_calc.py"].data  # type: ignore[attr-defined]


def test_a_reviewer_blocks_the_engineer_addresses_it_and_all_approve(pipeline: Any) -> None:
    p = pipeline
    p.route("engineer", *fix_steps(p), *fix_steps(p, summary="handled the blocker"))
    p.route(
        "reviewer/correctness", p.verdict(False, [p.blocker("floats are rounded")]), p.verdict()
    )
    p.route("reviewer/spec-conformance", p.verdict(), p.verdict())
    p.route("reviewer/security", p.verdict(), p.verdict())
    p.route("tech_lead", p.playbook())
    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 2
    first = row["attempt_log"][0]
    assert first["outcome"] == "rejected"
    assert [v["blockers"] for v in first["verdicts"] if not v["approve"]] == [
        ["floats are rounded"]
    ]
    retry = p.prompt(p.requests("engineer")[-2])
    assert "floats are rounded" in retry and "add(2, 2) -> 5" in retry
    # Every reviewer saw the diff and the gate report.
    for request in p.requests("reviewer"):
        text = p.prompt(request)
        assert "calc.py" in text and "return a + b" in text and "pass A" in text


def test_a_malformed_verdict_counts_as_a_rejection(pipeline: Any) -> None:
    from leanforge.agent.fake_server import reply, text

    p = pipeline
    p.route("engineer", *fix_steps(p), *fix_steps(p))
    # No final tool call at all (twice: the nudge too), then a proper approval next attempt.
    p.route(
        "reviewer/correctness",
        reply([text("Looks fine to me.")]),
        reply([text("Yes.")]),
        p.verdict(),
    )
    p.route("reviewer/spec-conformance", p.verdict(), p.verdict())
    p.route("reviewer/security", p.verdict(), p.verdict())
    p.route("tech_lead", p.playbook())
    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 2
    (bad,) = [v for v in row["attempt_log"][0]["verdicts"] if not v["approve"]]
    assert bad["lens"] == "correctness" and "no verdict" in bad["problem"]


def test_max_attempts_exhausted_fails_keeps_the_worktree_and_merges_nothing(pipeline: Any) -> None:
    p = pipeline
    p.serve("engineer", p.honest(p.WRONG))
    out = p.build(p.slug, "--max-attempts", "2", expect=1)
    (row,) = out["builds"]
    assert row["outcome"] == "failed" and row["attempts"] == 2 and not row["merged"]
    record = p.record()
    assert record["status"] == "failed" and "2 attempt" in record["failure"]
    assert (p.root / ".git/forge-worktrees/fix-add/calc.py").read_text() == p.WRONG
    repo = pygit2.Repository(str(p.root))
    assert "Forge-Task" not in repo.branches.local["main"].peel(pygit2.Commit).message
    assert p.requests("reviewer") == []


def test_budget_exceeded_stops_cleanly_and_is_recorded(pipeline: Any) -> None:
    from leanforge.agent.fake_server import reply, tool_use

    p = pipeline
    expensive = {"input_tokens": 450_000, "output_tokens": 1000}
    p.route(
        "engineer",
        reply([tool_use("bash", {"command": "ls"})], usage=expensive),
        *[reply([tool_use("bash", {"command": "ls"})], usage=expensive)] * 5,
    )
    out = p.build(p.slug, "--max-cost", "1", expect=1)
    (row,) = out["builds"]
    assert row["outcome"] == "budget" and not row["merged"]
    record = p.record()
    assert record["status"] == "failed" and record["failure"].startswith("budget")
    assert record["usage"]["engineer"]["cost_usd"] <= 1.0
    assert p.results()[-1]["outcome"] == "budget"
