"""Acceptance: kill -9 at every paid step, then `forge build` again: merged exactly once, and no
finished paid step repeated (counted from the requests the local Messages server received)."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pygit2
import pytest

from leanforge.agent.fake_server import error

#: A happy build's requests: engineer (2), three reviewers (1 each), tech-lead (1).
HAPPY = 6


def merges(p: Any) -> list[pygit2.Commit]:
    repo = pygit2.Repository(str(p.root))
    walker = repo.walk(repo.branches.local["main"].target)
    return [c for c in walker if len(c.parents) == 2 and "Forge-Task: fix-add" in c.message]


@pytest.mark.parametrize("kill_at", range(1, HAPPY + 1))
def test_kill_at_each_step_then_resume_merges_exactly_once(pipeline: Any, kill_at: int) -> None:
    p = pipeline
    state: dict[str, Any] = {"seen": 0, "pid": None}

    def killing(policy: Any) -> Any:
        def step(body: dict[str, Any]) -> Any:
            state["seen"] += 1
            if state["seen"] == kill_at and state["pid"]:
                os.kill(state["pid"], signal.SIGKILL)
                return error(500, "api_error", "the process was killed")
            return policy(body)

        return step

    p.serve("engineer", killing(p.honest()))
    for lens in ("correctness", "spec-conformance", "security"):
        p.serve(f"reviewer/{lens}", killing(lambda body: p.verdict()))
    p.serve("tech_lead", killing(lambda body: p.playbook()))

    proc = p.start("build", p.slug)
    state["pid"] = proc.pid
    proc.communicate(timeout=240)
    assert proc.returncode == -signal.SIGKILL
    state["pid"] = None
    before = {role: len(p.requests(role)) for role in ("engineer", "reviewer", "tech_lead")}
    attempts = p.root / ".git/forge/tasks/fix-add/attempts/0001.json"
    saved = json.loads(attempts.read_text()) if attempts.exists() else {}
    verdicts_before = len(saved.get("verdicts", []))
    engineer_done = saved.get("summary") is not None

    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and row["attempts"] == 1
    assert len(merges(p)) == 1
    after = {role: len(p.requests(role)) - before[role] for role in before}
    # A finished engineer session is not run again; an interrupted one is run again, in full.
    assert after["engineer"] == (0 if engineer_done else 2)
    # Only the reviewers that had not answered are asked again.
    assert after["reviewer"] == 3 - verdicts_before
    assert after["tech_lead"] == 1
    record = p.record()
    assert record["status"] == "merged" and record["playbook_status"] == "committed"


def test_no_merge_stops_at_approved_and_a_later_build_merges(pipeline: Any) -> None:
    p = pipeline
    p.serve("engineer", p.honest())
    for lens in ("correctness", "spec-conformance", "security"):
        p.serve(f"reviewer/{lens}", lambda body: p.verdict())
    p.serve("tech_lead", lambda body: p.playbook())
    (row,) = p.build(p.slug, "--no-merge")["builds"]
    assert row["outcome"] == "approved" and p.record()["status"] == "reviewed"
    assert merges(p) == []
    calls = len(p.requests())
    (row,) = p.build()["builds"]
    assert row["outcome"] == "merged" and len(merges(p)) == 1
    # Merging needed no model; only the tech-lead ran.
    assert len(p.requests()) - calls == 1 == len(p.requests("tech_lead"))
