"""What the loop does with each reply: a pure decision over its stop_reason and content."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from leanforge.agent.model import tool_uses


class Step(Enum):
    RUN_TOOLS = "run the tool calls"
    RESEND = "send the conversation back as it is (pause_turn)"
    GROW = "discard a tool call cut by max_tokens; retry once with more room"
    TRUNCATED = "fail: a tool call was cut by max_tokens again"
    CONTINUE = "keep the text cut by max_tokens and ask the model to go on"
    NUDGE = "remind the model that only its final tool call counts"
    NO_FINAL = "fail: the model stopped again without its final tool call"
    REFUSED = "fail: the model refused"
    OVERFLOW = "discard the reply, abridge the conversation and retry"


def next_step(
    stop_reason: str,
    content: Sequence[Mapping[str, Any]],
    *,
    nudged: bool,
    grown: bool,
    max_tokens: int,
    ceiling: int,
) -> Step:
    """The loop's next step after a reply (see docs/agents.md for the table)."""
    if stop_reason == "model_context_window_exceeded":
        return Step.OVERFLOW
    if stop_reason == "refusal":
        return Step.REFUSED
    if stop_reason == "pause_turn":
        return Step.RESEND
    cut_call = bool(content) and content[-1].get("type") == "tool_use"
    if stop_reason == "max_tokens" and cut_call:
        return Step.TRUNCATED if grown or max_tokens >= ceiling else Step.GROW
    if tool_uses(content):
        return Step.RUN_TOOLS
    if stop_reason == "max_tokens":
        return Step.CONTINUE
    return Step.NO_FINAL if nudged else Step.NUDGE
