"""Keeping the conversation bounded: abridge old tool traffic, keep the task and recent turns.

Pure functions over Messages-API message lists. Abridging rewrites old messages, which
invalidates the prompt cache from that point, so the loop does it rarely and in one go: when
the conversation passes a high-water mark it is cut down to a low-water mark (hysteresis),
and again, harder, when the API reports a context overflow.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from leanforge.agent.model import Block

#: Characters of an abridged string that stay, so the model still sees what it was.
KEEP_HEAD = 400


def size(messages: Sequence[Block]) -> int:
    """The conversation's size in characters of JSON."""
    return len(json.dumps(list(messages), separators=(",", ":")))


def _cut(text: str) -> str:
    return (
        f"{text[:KEEP_HEAD]}\n[... {len(text) - KEEP_HEAD} characters abridged by forge to keep "
        "the conversation small; run the command or view the file again if you need them ...]"
    )


def _abridge_block(block: Block) -> int:
    """Abridge one block in place; returns the characters saved."""
    saved = 0
    if block.get("type") == "tool_result":
        content = block.get("content")
        if isinstance(content, str) and len(content) > 2 * KEEP_HEAD:
            block["content"] = _cut(content)
            saved += len(content) - len(block["content"])
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str) and len(text) > 2 * KEEP_HEAD:
                    part["text"] = _cut(text)
                    saved += len(text) - len(part["text"])
    elif block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
        tool_input: dict[str, Any] = block["input"]
        for key, value in tool_input.items():
            if isinstance(value, str) and len(value) > 2 * KEEP_HEAD:
                tool_input[key] = _cut(value)
                saved += len(value) - len(tool_input[key])
    return saved


def abridge(messages: Sequence[Block], target: int, keep_recent: int) -> tuple[list[Block], int]:
    """A copy of ``messages`` shrunk towards ``target`` characters; and the characters saved.

    The first message (the task) and the last ``keep_recent`` messages are never touched;
    old tool results and large tool inputs are cut to their head, oldest first, until the
    conversation fits ``target`` or nothing is left to cut.
    """
    result = copy.deepcopy(list(messages))
    total = size(result)
    saved = 0
    for message in result[1 : max(1, len(result) - keep_recent)]:
        if total - saved <= target:
            break
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict):
                    saved += _abridge_block(block)
    return result, saved
