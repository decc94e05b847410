from __future__ import annotations

from leanforge.agent.compact import abridge, size
from leanforge.agent.model import Block


def conversation(turns: int, output: int) -> list[Block]:
    messages: list[Block] = [{"role": "user", "content": [{"type": "text", "text": "TASK " * 500}]}]
    for n in range(turns):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{n}",
                        "name": "bash",
                        "input": {"command": "x" * output},
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"t{n}", "content": "o" * output}
                ],
            }
        )
    return messages


def test_abridges_old_tool_traffic_down_to_the_target() -> None:
    messages = conversation(10, 20_000)
    before = size(messages)
    shrunk, saved = abridge(messages, target=before // 3, keep_recent=4)
    assert saved > 0 and size(shrunk) <= before // 3 + 5_000
    assert shrunk[0] == messages[0], "the task is never abridged"
    assert shrunk[-4:] == messages[-4:], "recent turns are never abridged"
    assert "abridged by forge" in shrunk[2]["content"][0]["content"]
    assert messages == conversation(10, 20_000), "the input is not modified"
    # ids and structure survive: every tool_result still answers its tool_use
    assert [b["tool_use_id"] for m in shrunk[2::2] for b in m["content"]] == [
        f"t{n}" for n in range(10)
    ]


def test_oldest_go_first_and_nothing_is_cut_when_it_fits() -> None:
    messages = conversation(6, 5_000)
    same, saved = abridge(messages, target=size(messages), keep_recent=2)
    assert saved == 0 and same == messages
    shrunk, _ = abridge(messages, target=size(messages) - 4_000, keep_recent=2)
    assert "abridged" in str(shrunk[1]) and "abridged" not in str(shrunk[7])


def test_nothing_left_to_cut_reports_zero() -> None:
    messages = conversation(3, 100)
    _, saved = abridge(messages, target=10, keep_recent=2)
    assert saved == 0
