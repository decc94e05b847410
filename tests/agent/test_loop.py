"""The loop's decisions, driven by the scripted model and a recording tool runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent import pricing
from leanforge.agent.limits import Limits
from leanforge.agent.loop import Job, ToolLoop
from leanforge.agent.model import ContextOverflow, ModelRequest, Reply
from leanforge.agent.scripted import ScriptedModel, Turn
from leanforge.agent.tools import ToolResult
from leanforge.agent.transcript import Redactor, Transcript, read
from leanforge.errors import (
    BudgetExceeded,
    ContextExhausted,
    ModelRefused,
    NoFinalAnswer,
    OutputTruncated,
    TimeLimitReached,
    TurnLimitReached,
)

JOB = Job(role="engineer", model="claude-sonnet-4-5", system="be good", prompt="fix add")
SUBMIT = {"name": "submit_work", "input": {"summary": "fixed"}}
PRICE = pricing.price_for("claude-sonnet-4-5").price


class RecordingTools:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult:
        self.calls.append((name, tool_input))
        return ToolResult(f"ran {name} #{len(self.calls)}")


def bash(command: str) -> dict[str, Any]:
    return {"name": "bash", "input": {"command": command}}


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        turns: list[Turn],
        clock: Callable[[], float] | None = None,
        **limits: Any,
    ) -> None:
        self.model = ScriptedModel(turns)
        self.tools = RecordingTools()
        self.path = tmp_path / "t.jsonl"
        self.transcript = Transcript(self.path, Redactor())
        extra = {"clock": clock} if clock else {}
        self.loop = ToolLoop(
            self.model, self.tools, Limits(**limits), PRICE, self.transcript, **extra
        )

    def run(self) -> Any:
        try:
            return self.loop.run(JOB)
        finally:
            self.transcript.close()

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in read(self.path) if e["event"] == kind]


def test_parallel_calls_run_in_order_and_answer_every_id(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"tools": [bash("ls"), bash("pwd")]}, {"tools": [SUBMIT]}])
    outcome = h.run()
    assert outcome.final == {"summary": "fixed"} and outcome.turns == 2
    assert h.tools.calls == [("bash", {"command": "ls"}), ("bash", {"command": "pwd"})]
    results = h.model.requests[1].messages[-1]["content"]
    assert [(r["type"], r["tool_use_id"], r["content"]) for r in results] == [
        ("tool_result", "toolu_scripted_001_0", "ran bash #1"),
        ("tool_result", "toolu_scripted_001_1", "ran bash #2"),
    ]
    assert [e["outcome"] for e in h.events("end")] == ["done"]


def test_end_turn_without_the_final_tool_is_nudged_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"text": "all done!"}, {"tools": [SUBMIT]}])
    assert h.run().final == {"summary": "fixed"}
    nudge = h.model.requests[1].messages[-1]["content"][0]["text"]
    assert "submit_work" in nudge and "without calling" in nudge


def test_a_second_stop_without_the_final_tool_fails(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"text": "done"}, {"text": "really done"}])
    with pytest.raises(NoFinalAnswer, match="stopped twice"):
        h.run()
    (end,) = h.events("end")
    assert end["reason"] == "no_final" and end["turns"] == 2


def test_a_tool_call_cut_by_max_tokens_is_retried_once_with_more_room(tmp_path: Path) -> None:
    cut = {
        "content": [
            {"type": "tool_use", "id": "t1", "name": "str_replace_based_edit_tool", "input": {}}
        ],
        "stop_reason": "max_tokens",
    }
    h = Harness(tmp_path, [cut, {"tools": [SUBMIT]}], max_tokens=1000)
    h.run()
    first, second = h.model.requests
    assert (first.max_tokens, second.max_tokens) == (1000, 2000)
    assert h.tools.calls == [], "the cut tool call never runs"
    told = second.messages[-1]["content"][-1]["text"]
    assert "cut off by the max_tokens limit (1000)" in told and "2000" in told
    assert len(second.messages) == 1, "the cut reply is discarded"


def test_cut_again_with_more_room_fails_closed(tmp_path: Path) -> None:
    cut = {
        "content": [{"type": "tool_use", "id": "t1", "name": "bash", "input": {}}],
        "stop_reason": "max_tokens",
    }
    h = Harness(tmp_path, [cut, cut], max_tokens=1000)
    with pytest.raises(OutputTruncated):
        h.run()


def test_text_cut_by_max_tokens_is_continued(tmp_path: Path) -> None:
    h = Harness(
        tmp_path, [{"text": "Let me expl", "stop_reason": "max_tokens"}, {"tools": [SUBMIT]}]
    )
    h.run()
    assert "Continue where you stopped" in h.model.requests[1].messages[-1]["content"][0]["text"]


def test_pause_turn_is_sent_back_as_is(tmp_path: Path) -> None:
    h = Harness(
        tmp_path, [{"text": "thinking...", "stop_reason": "pause_turn"}, {"tools": [SUBMIT]}]
    )
    h.run()
    last = h.model.requests[1].messages[-1]
    assert last == {"role": "assistant", "content": [{"type": "text", "text": "thinking..."}]}


def test_refusal_fails(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"text": "no", "stop_reason": "refusal"}])
    with pytest.raises(ModelRefused):
        h.run()
    assert h.events("end")[0]["reason"] == "refusal"


def test_invalid_final_input_goes_back_and_the_loop_continues(tmp_path: Path) -> None:
    bad = {"tools": [{"name": "submit_work", "input": {"summary": 42}}]}
    h = Harness(tmp_path, [bad, {"tools": [SUBMIT]}])
    assert h.run().final == {"summary": "fixed"}
    (result,) = h.model.requests[1].messages[-1]["content"]
    assert result["is_error"] is True and "input.summary must be a string" in result["content"]


def test_invalid_final_input_is_bounded(tmp_path: Path) -> None:
    bad = {"tools": [{"name": "submit_work", "input": {}}]}
    h = Harness(tmp_path, [bad, bad, bad], max_invalid_finals=3)
    with pytest.raises(NoFinalAnswer, match="invalid submit_work input 3 times"):
        h.run()


def test_turn_limit_stops_before_the_next_call(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"tools": [bash("ls")]}] * 5, max_turns=3)
    with pytest.raises(TurnLimitReached) as caught:
        h.run()
    assert len(h.model.requests) == 3 and caught.value.turns == 3
    assert h.events("end")[0]["reason"] == "max_turns"


def test_wall_clock_limit(tmp_path: Path) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 40.0
        return now[0]

    h = Harness(tmp_path, [{"tools": [bash("ls")]}] * 5, clock=clock, wall_seconds=100.0)
    with pytest.raises(TimeLimitReached):
        h.run()
    assert len(h.model.requests) < 5
    assert h.events("end")[0]["reason"] == "time_limit"


def test_budget_is_checked_before_each_call_with_an_estimate(tmp_path: Path) -> None:
    pricey = {"tools": [bash("ls")], "usage": {"input_tokens": 100_000, "output_tokens": 10_000}}
    # Each call costs $0.45. After two ($0.90), the third's estimate (its small prompt plus
    # 1000 output tokens, ~$0.015) could pass $0.91, so it is not made.
    h = Harness(tmp_path, [pricey] * 5, budget_usd=0.91, max_tokens=1000)
    with pytest.raises(BudgetExceeded) as caught:
        h.run()
    assert len(h.model.requests) == 2, "the third call could pass $1.00, so it is not made"
    assert caught.value.cost_usd == pytest.approx(0.9)
    assert h.loop.usage.calls == 2 and h.loop.usage.cost_usd <= 0.91
    (end,) = h.events("end")
    assert end["reason"] == "budget" and end["usage"]["cost_usd"] == pytest.approx(0.9)


def test_a_budget_smaller_than_one_call_makes_no_call(tmp_path: Path) -> None:
    h = Harness(tmp_path, [{"tools": [SUBMIT]}], budget_usd=0.0001)
    with pytest.raises(BudgetExceeded):
        h.run()
    assert h.model.requests == []


def test_context_overflow_abridges_old_tool_output_and_retries(tmp_path: Path) -> None:
    big = "z" * 50_000
    overflowed: list[int] = []

    def once_too_long(request: ModelRequest) -> Any:
        if not overflowed:
            overflowed.append(1)
            raise ContextOverflow("prompt is too long: 250000 tokens > 200000 maximum")
        return {"tools": [SUBMIT]}

    class BigTools(RecordingTools):
        def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult:
            super().run(name, tool_input)
            return ToolResult(big)

    turns: list[Turn] = [{"tools": [bash(f"cat {n}")]} for n in range(4)]
    h = Harness(tmp_path, [*turns, once_too_long, once_too_long])
    h.loop.tools = BigTools()
    assert h.run().final == {"summary": "fixed"}
    before, after = h.model.requests[-2], h.model.requests[-1]
    assert len(str(after.messages)) < len(str(before.messages)) // 2
    assert after.messages[0] == before.messages[0], "the task is kept"
    assert after.messages[-2:] == before.messages[-2:], "the latest turn is kept"
    assert any("context overflow" in e.get("note", "") for e in h.events("note"))


def test_overflow_with_nothing_left_to_abridge_fails(tmp_path: Path) -> None:
    def too_long(request: ModelRequest) -> Any:
        raise ContextOverflow("prompt is too long")

    h = Harness(tmp_path, [too_long])
    with pytest.raises(ContextExhausted):
        h.run()


def test_large_conversations_are_abridged_before_they_grow_unbounded(tmp_path: Path) -> None:
    class BigTools(RecordingTools):
        def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult:
            return ToolResult("y" * 20_000)

    h = Harness(
        tmp_path,
        [{"tools": [bash("cat")]}] * 12 + [{"tools": [SUBMIT]}],
        high_water_chars=100_000,
        low_water_chars=50_000,
    )
    h.loop.tools = BigTools()
    h.run()
    sizes = [len(str(r.messages)) for r in h.model.requests]
    assert max(sizes) < 130_000, sizes


def test_reply_objects_are_accepted_as_is(tmp_path: Path) -> None:
    reply = Reply(
        content=(
            {"type": "tool_use", "id": "x1", "name": "submit_work", "input": {"summary": "ok"}},
        ),
        stop_reason="tool_use",
    )
    h = Harness(tmp_path, [reply])
    assert h.run().final == {"summary": "ok"}


def test_a_reply_cut_by_the_context_window_is_discarded_and_the_conversation_abridged(
    tmp_path: Path,
) -> None:
    class BigTools(RecordingTools):
        def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult:
            return ToolResult("q" * 30_000)

    full = {"text": "partial", "stop_reason": "model_context_window_exceeded"}
    h = Harness(
        tmp_path,
        [
            {"tools": [bash("a")]},
            {"tools": [bash("b")]},
            {"tools": [bash("c")]},
            full,
            {"tools": [SUBMIT]},
        ],
    )
    h.loop.tools = BigTools()
    assert h.run().final == {"summary": "fixed"}
    before, after = h.model.requests[-2], h.model.requests[-1]
    assert len(str(after.messages)) < len(str(before.messages))
    assert "partial" not in str(after.messages)


def test_every_call_is_bounded_by_the_time_left(tmp_path: Path) -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 10.0
        return now[0]

    h = Harness(
        tmp_path, [{"tools": [bash("ls")]}, {"tools": [SUBMIT]}], clock=clock, wall_seconds=100.0
    )
    h.run()
    timeouts = [r.timeout for r in h.model.requests]
    assert timeouts[0] is not None and timeouts[0] <= 100.0
    assert timeouts[1] is not None and timeouts[1] < timeouts[0]
