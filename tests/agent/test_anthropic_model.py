"""The adapter's pure parts: where cache_control goes, when to stream, usage, the key check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from leanforge.agent.anthropic_model import client_from_env, needs_stream, request_params, usage_of
from leanforge.agent.model import Block, ModelRequest
from leanforge.agent.protocol import client_tools, final_tool
from leanforge.errors import MissingApiKey

TOOLS = [*client_tools(), final_tool("engineer")]


def marked(params: dict[str, object]) -> list[str]:
    """Where the cache breakpoints are, as readable labels."""
    found = []
    for tool in params["tools"]:  # type: ignore[attr-defined]
        if "cache_control" in tool:
            found.append(f"tool:{tool['name']}")
    for block in params["system"]:  # type: ignore[attr-defined]
        if "cache_control" in block:
            found.append("system")
    for index, message in enumerate(params["messages"]):  # type: ignore[attr-defined]
        for position, block in enumerate(message["content"]):
            if "cache_control" in block:
                found.append(f"message{index}[{position}]")
    return found


def conversation(turns: int) -> list[Block]:
    messages: list[Block] = [{"role": "user", "content": [{"type": "text", "text": "task"}]}]
    for n in range(turns):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "hm"},
                    {"type": "tool_use", "id": f"a{n}", "name": "bash", "input": {}},
                    {"type": "tool_use", "id": f"b{n}", "name": "bash", "input": {}},
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"a{n}", "content": "x"},
                    {"type": "tool_result", "tool_use_id": f"b{n}", "content": "y"},
                ],
            }
        )
    return messages


def test_first_call_marks_the_prefix_and_the_task() -> None:
    params = request_params(ModelRequest("m", "system", TOOLS, conversation(0), 100))
    assert marked(params) == ["system", "message0[0]"]
    assert params["system"] == [
        {"type": "text", "text": "system", "cache_control": {"type": "ephemeral"}}
    ]


def test_later_calls_mark_the_newest_and_the_previous_user_message() -> None:
    messages = conversation(3)
    params = request_params(ModelRequest("m", "system", TOOLS, messages, 100), ttl="1h")
    assert marked(params) == ["system", "message4[1]", "message6[1]"]
    assert params["messages"][6]["content"][1]["cache_control"] == {
        "type": "ephemeral",
        "ttl": "1h",
    }
    assert "cache_control" not in str(messages), "the caller's conversation is not modified"
    assert len(marked(params)) <= 4, "the API allows four breakpoints"


def test_a_resent_pause_turn_marks_the_assistant_message() -> None:
    messages = [
        *conversation(1),
        {"role": "assistant", "content": [{"type": "text", "text": "paused"}]},
    ]
    params = request_params(ModelRequest("m", "s", TOOLS, messages, 100))
    assert marked(params) == ["system", "message2[1]", "message3[0]"]


def test_streaming_only_when_the_sdk_requires_it() -> None:
    assert not needs_stream("claude-sonnet-5-5", 16_000)
    assert needs_stream("claude-sonnet-5-5", 32_000)
    assert needs_stream("claude-opus-4-0", 16_000), "the SDK's per-model limit (8192) applies"


def test_usage_splits_cache_writes_by_ttl() -> None:
    split = SimpleNamespace(ephemeral_5m_input_tokens=30, ephemeral_1h_input_tokens=70)
    raw = SimpleNamespace(
        input_tokens=5,
        output_tokens=6,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=7,
        cache_creation=split,
    )
    usage = usage_of(raw, "5m")
    assert (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens, usage.cache_read_tokens) == (
        30,
        70,
        7,
    )
    bare = SimpleNamespace(
        input_tokens=5,
        output_tokens=6,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=None,
        cache_creation=None,
    )
    assert usage_of(bare, "1h").cache_write_1h_tokens == 100
    assert usage_of(bare, "5m").cache_write_5m_tokens == 100


def test_a_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(MissingApiKey, match="export ANTHROPIC_API_KEY"):
        client_from_env({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, max_retries=0, timeout=1)
    client = client_from_env(
        {"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"},
        max_retries=3,
        timeout=5,
    )
    assert str(client.base_url).startswith("http://127.0.0.1:9") and client.max_retries == 3
