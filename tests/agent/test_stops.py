from __future__ import annotations

from typing import Any

import pytest

from leanforge.agent.stops import Step, next_step

TEXT = {"type": "text", "text": "hm"}
CALL = {"type": "tool_use", "id": "t", "name": "bash", "input": {}}


@pytest.mark.parametrize(
    ("stop", "content", "state", "expected"),
    [
        ("tool_use", [TEXT, CALL], {}, Step.RUN_TOOLS),
        ("end_turn", [TEXT, CALL], {}, Step.RUN_TOOLS),
        ("end_turn", [TEXT], {}, Step.NUDGE),
        ("end_turn", [TEXT], {"nudged": True}, Step.NO_FINAL),
        ("stop_sequence", [], {}, Step.NUDGE),
        ("pause_turn", [TEXT], {}, Step.RESEND),
        ("refusal", [TEXT, CALL], {}, Step.REFUSED),
        ("max_tokens", [TEXT, CALL], {}, Step.GROW),
        ("max_tokens", [TEXT, CALL], {"grown": True}, Step.TRUNCATED),
        ("max_tokens", [TEXT, CALL], {"max_tokens": 64_000}, Step.TRUNCATED),
        ("max_tokens", [CALL, TEXT], {}, Step.RUN_TOOLS),
        ("max_tokens", [TEXT], {"nudged": True}, Step.CONTINUE),
        ("model_context_window_exceeded", [TEXT, CALL], {}, Step.OVERFLOW),
    ],
)
def test_next_step(
    stop: str, content: list[dict[str, Any]], state: dict[str, Any], expected: Step
) -> None:
    args = {"nudged": False, "grown": False, "max_tokens": 16_000, "ceiling": 64_000, **state}
    assert next_step(stop, content, **args) is expected
