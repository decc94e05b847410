"""Acceptance: the real SDK adapter, the real loop and the real sandboxed tools, against a local
Messages server on 127.0.0.1, on a spec'd task in a real repository."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leanforge.agent.fake_server import Captured, error, reply, text, tool_use
from leanforge.errors import BudgetExceeded, ModelUnavailable, TimeLimitReached, TurnLimitReached

EDITOR = "str_replace_based_edit_tool"


def submit(summary: str = "add adds now") -> Any:
    return reply([tool_use("submit_work", {"summary": summary})])


def breakpoints(request: Captured) -> list[str]:
    """Where a captured request carries cache_control."""
    body = request.body
    found = [f"tool:{t['name']}" for t in body["tools"] if "cache_control" in t]
    found += ["system" for b in body["system"] if "cache_control" in b]
    for i, message in enumerate(body["messages"]):
        for j, block in enumerate(message["content"]):
            if "cache_control" in block:
                found.append(f"m{i}[{j}]")
    return found


@pytest.mark.parametrize("max_tokens", [8000, 32000], ids=["json", "streaming"])
def test_a_session_edits_runs_and_submits(task: Any, max_tokens: int) -> None:
    task.server.add(
        reply(
            [
                text("Looking."),
                tool_use(EDITOR, {"command": "view", "path": "calc.py"}),
                tool_use("bash", {"command": "cat calc.py; ls tests"}),
            ]
        ),
        reply(
            [
                tool_use(
                    EDITOR,
                    {
                        "command": "str_replace",
                        "path": "calc.py",
                        "old_str": "a - b",
                        "new_str": "a + b",
                    },
                )
            ]
        ),
        reply(
            [
                tool_use(
                    "bash",
                    {"command": "python -m pytest -q -p no:cacheprovider tests/test_calc.py"},
                )
            ]
        ),
        submit(),
    )
    outcome = task.run(forge=task.forge(agent={"max_tokens": max_tokens}))

    assert outcome.final == {"summary": "add adds now"} and outcome.turns == 4
    assert (task.worktree / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    requests = task.requests()
    assert len(requests) == 4
    assert all(r.body.get("stream", False) is (max_tokens > 21_333) for r in requests)
    assert all(r.body["max_tokens"] == max_tokens for r in requests)
    # The parallel calls: two results, in order, answering the ids the server sent.
    first_ids = [
        b["id"] for b in requests[1].body["messages"][-2]["content"] if b["type"] == "tool_use"
    ]
    view, listing = task.results(1)
    assert [view["tool_use_id"], listing["tool_use_id"]] == first_ids
    assert "return a - b" in view["content"] and "test_calc.py" in listing["content"]
    assert "2 passed" in task.results(3)[0]["content"]
    # The tools and the protocol are exactly the designed ones.
    assert [t.get("type", "custom") for t in requests[0].body["tools"]] == [
        "text_editor_20250728",
        "bash_20250124",
        "custom",
    ]
    assert [t["name"] for t in requests[0].body["tools"]] == [EDITOR, "bash", "submit_work"]
    # The SDK read the key from forge's environment (SDK 2.x sends it as a bearer token).
    headers = requests[0].headers
    assert task.key in (
        headers.get("x-api-key"),
        headers.get("authorization", "")[len("Bearer ") :],
    )
    # Usage and cost reach the task record, by role.
    usage = task.project.forge_json("show", "fix-add")["usage"]["engineer"]
    assert usage["calls"] == 4 and usage["cost_usd"] > 0 and usage["cache_read_tokens"] > 0
    assert outcome.usage.cost_usd == pytest.approx(usage["cost_usd"])
    shown = task.project.forge_json("show", "fix-add")
    assert shown["transcripts"] == [outcome.transcript]
    text_view = task.project.forge("show", "fix-add").output
    assert "engineer  $" in text_view and "4 calls" in text_view and "1 transcript(s)" in text_view
    events = [e["event"] for e in task.events()]
    assert events[0] == "start" and events[-1] == "end" and events.count("tool") == 5


def test_cache_control_sits_exactly_where_designed(task: Any) -> None:
    task.server.add(
        reply([tool_use("bash", {"command": "true"}), tool_use("bash", {"command": "true"})]),
        reply([tool_use("bash", {"command": "true"})]),
        submit(),
    )
    task.run()
    marks = [breakpoints(r) for r in task.requests()]
    # The stable prefix (tools render first, then system) ends at the system block; then the
    # newest message, and the previous user message, where the last call wrote its cache.
    assert marks == [
        ["system", "m0[0]"],
        ["system", "m0[0]", "m2[1]"],
        ["system", "m2[1]", "m4[0]"],
    ]
    assert all(
        b["cache_control"] == {"type": "ephemeral"}
        for r in task.requests()
        for b in r.body["system"]
    )


def test_429_with_retry_after_then_success(task: Any) -> None:
    task.server.add(error(429, "rate_limit_error", "slow down", {"retry-after": "0.4"}), submit())
    task.run()
    first, second = task.requests()
    assert second.at - first.at >= 0.4, "the SDK honoured retry-after"
    assert second.body == first.body


def test_529_overloaded_then_success(task: Any) -> None:
    task.server.add(error(529, "overloaded_error", "Overloaded", {"retry-after": "0"}), submit())
    assert task.run().final == {"summary": "add adds now"}
    assert len(task.requests()) == 2


def test_500_on_every_try_is_a_clean_typed_failure(task: Any) -> None:
    task.server.add(*[error(500, "api_error", "boom", {"retry-after": "0"})] * 3)
    with pytest.raises(ModelUnavailable, match=r"failed with 500 after 2 retries: boom"):
        task.run()
    assert len(task.requests()) == 3
    assert task.events()[-1]["outcome"] == "error"


def test_max_tokens_truncation_gets_more_room_once(task: Any) -> None:
    cut = reply(
        [tool_use(EDITOR, {"command": "create", "path": "big.py"})], stop_reason="max_tokens"
    )
    task.server.add(cut, submit())
    task.run(forge=task.forge(agent={"max_tokens": 1000}))
    first, second = task.requests()
    assert (first.body["max_tokens"], second.body["max_tokens"]) == (1000, 2000)
    assert not (task.worktree / "big.py").exists()
    assert "cut off by the max_tokens limit" in second.body["messages"][-1]["content"][-1]["text"]


def test_malformed_tool_input_is_an_error_result_and_the_loop_goes_on(task: Any) -> None:
    task.server.add(
        reply(
            [
                tool_use(EDITOR, {"command": "view"}),
                tool_use(EDITOR, {"command": "str_replace", "path": 7, "old_str": "x"}),
                tool_use("bash", {"command": ["ls"]}),
            ]
        ),
        submit(),
    )
    assert task.run().final == {"summary": "add adds now"}
    results = task.results(1)
    assert len(results) == 3 and all(r.get("is_error") for r in results)
    assert "path" in results[0]["content"] and "command" in results[2]["content"]


def test_turn_limit_stops_and_is_recorded(task: Any) -> None:
    task.server.add(*[reply([tool_use("bash", {"command": "true"})])] * 3)
    with pytest.raises(TurnLimitReached):
        task.run(forge=task.forge(budgets={"max_turns": 2}))
    assert len(task.requests()) == 2
    end = task.events()[-1]
    assert (end["outcome"], end["reason"], end["turns"]) == ("stopped", "max_turns", 2)
    assert task.project.forge_json("show", "fix-add")["usage"]["engineer"]["calls"] == 2


def test_wall_clock_limit_stops_and_is_recorded(task: Any) -> None:
    slow = reply([tool_use("bash", {"command": "true"})], delay=0.5)
    task.server.add(slow, slow, slow)
    with pytest.raises(TimeLimitReached):
        task.run(forge=task.forge(timeouts={"agent_session": 0.8}))
    assert 1 <= len(task.requests()) <= 2
    assert task.events()[-1]["reason"] == "time_limit"
    # No call may wait past the session's end (1 s is the floor forge gives a call).
    assert float(task.requests()[0].headers["x-stainless-timeout"]) <= 1.0


def test_budget_stops_before_the_call_that_could_pass_it(task: Any) -> None:
    pricey = reply(
        [tool_use("bash", {"command": "true"})],
        usage={"input_tokens": 150_000, "output_tokens": 1000},
    )
    task.server.add(pricey, pricey, pricey)
    with pytest.raises(BudgetExceeded) as caught:
        task.run(forge=task.forge(budgets={"session_usd": 0.63}, agent={"max_tokens": 2000}))
    # $0.31 a call at Sonnet 5.5 prices; the third's estimate (~$0.02 for its prompt and 2000
    # output tokens) could take $0.62 past $0.63, so only two calls are made.
    assert len(task.requests()) == 2 and caught.value.cost_usd == pytest.approx(0.62)
    assert task.events()[-1]["reason"] == "budget"
    recorded = task.project.forge_json("show", "fix-add")["usage"]["engineer"]
    assert recorded["cost_usd"] == pytest.approx(0.62) and recorded["cost_usd"] <= 0.63


@pytest.mark.bwrap
def test_escapes_are_refused_through_both_tools(task: Any) -> None:
    (task.worktree / "out").symlink_to(task.project.root / "holdout")
    manifest = task.project.root / ".git/forge/tasks/fix-add/lock/manifest.json"
    assert manifest.is_file()
    task.server.add(
        reply(
            [
                tool_use(EDITOR, {"command": "view", "path": "../../../holdout/test_holdout.py"}),
                tool_use(
                    EDITOR,
                    {"command": "view", "path": str(task.project.root / "holdout/test_holdout.py")},
                ),
                tool_use(EDITOR, {"command": "view", "path": "out/test_holdout.py"}),
                tool_use(EDITOR, {"command": "create", "path": "../escaped.py", "file_text": "x"}),
                tool_use("bash", {"command": f"cat {manifest}"}),
                tool_use("bash", {"command": "cat out/test_holdout.py"}),
            ]
        ),
        submit(),
    )
    task.run()
    results = task.results(1)
    assert all(r.get("is_error") for r in results[:4]), results
    assert not (task.worktree.parent / "escaped.py").exists()
    for result in results:
        assert "test_commutes" not in result["content"] and "sha256" not in result["content"]
    assert "[exit code: 0]" not in results[4]["content"]


def test_no_secret_reaches_the_sandbox_or_the_transcript(task: Any) -> None:
    key = task.key
    task.server.add(
        reply([text(f"I see {key}"), tool_use("bash", {"command": "env"})]),
        reply([tool_use("bash", {"command": f"echo {key}"})]),
        submit(),
    )
    task.run()
    env_output = task.results(1)[0]["content"]
    assert "PATH=" in env_output
    assert task.key not in env_output and "ANTHROPIC" not in env_output
    text_of_transcript = task.transcripts()[0].read_text()
    assert task.key not in text_of_transcript and "[redacted]" in text_of_transcript
    assert json.loads(text_of_transcript.splitlines()[0])["event"] == "start"


@pytest.mark.bwrap
def test_a_reviewer_is_read_only_through_both_tools(task: Any) -> None:
    verdict = {"approve": False, "blockers": [], "notes": "looked"}
    task.server.add(
        reply(
            [
                tool_use(EDITOR, {"command": "view", "path": "calc.py"}),
                tool_use(EDITOR, {"command": "create", "path": "calc.py", "file_text": "pwned"}),
                tool_use("bash", {"command": "echo pwned > calc.py"}),
            ]
        ),
        reply([tool_use("submit_verdict", verdict)]),
    )
    outcome = task.run(role="reviewer")
    assert outcome.final == verdict
    view, create, shell = task.results(1)
    assert "return a - b" in view["content"] and not view.get("is_error")
    assert create.get("is_error") and "read-only" in create["content"]
    assert "Read-only file system" in shell["content"] and "[exit code: 0]" not in shell["content"]
    assert (task.worktree / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert [t["name"] for t in task.requests()[0].body["tools"]][-1] == "submit_verdict"
    assert task.project.forge_json("show", "fix-add")["usage"]["reviewer"]["calls"] == 2


def test_an_unknown_model_is_priced_conservatively_and_says_so(task: Any) -> None:
    task.server.add(
        reply(
            [tool_use("submit_work", {"summary": "s"})],
            usage={"input_tokens": 1_000_000, "output_tokens": 0},
        )
    )
    outcome = task.run(model_id="house-model-7")
    assert task.requests()[0].body["model"] == "house-model-7"
    assert any("house-model-7" in w and "[prices." in w for w in task.warnings)
    assert outcome.usage.cost_usd == pytest.approx(15.0), "the dearest input rate in the table"
    assert any("not in forge's price table" in e.get("note", "") for e in task.events())


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (400, "invalid_request_error", "prompt is too long: 212000 tokens > 200000 maximum"),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
    ],
)
def test_an_overflowing_request_is_abridged_and_sent_again(
    task: Any, status: int, kind: str, message: str
) -> None:
    big = "python -c \"print('z' * 20000)\""
    task.server.add(
        reply([tool_use("bash", {"command": big})]),
        reply([tool_use("bash", {"command": big})]),
        reply([tool_use("bash", {"command": "true"})]),
        error(status, kind, message),
        submit(),
    )
    assert task.run().final == {"summary": "add adds now"}
    *_, refused, resent = task.requests()
    assert len(resent.raw) < len(refused.raw) - 20_000
    assert resent.body["messages"][0] == refused.body["messages"][0], "the task is kept"
    assert any("context overflow" in e.get("note", "") for e in task.events())
