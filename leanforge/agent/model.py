"""The model boundary: one Messages-API call in, one reply out, in forge's own types.

Content blocks stay plain JSON dicts in the Messages API's shape (``{"type": "tool_use", ...}``):
that shape is the public protocol, and keeping it means a transcript, a scripted reply and a
captured HTTP request all read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: A content block or a message, as JSON.
Block = dict[str, Any]


@dataclass(frozen=True)
class CallUsage:
    """What one call consumed, as the API reports it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0


@dataclass(frozen=True)
class ModelRequest:
    """One call: the stable prefix (system, tools) and the conversation so far."""

    model: str
    system: str
    tools: Sequence[Block]
    messages: Sequence[Block]
    max_tokens: int
    #: Seconds this call may take (the session's remaining time); None = the backend's default.
    timeout: float | None = None


@dataclass(frozen=True)
class Reply:
    content: tuple[Block, ...]
    stop_reason: str
    usage: CallUsage = field(default_factory=CallUsage)
    model: str = ""
    request_id: str = ""


class ContextOverflow(Exception):
    """The request is larger than the model's context window; the loop abridges and retries."""


class Model(Protocol):
    """A Messages-API model. Raises ContextOverflow, or ModelUnavailable when it fails for good."""

    #: The backend's name, for transcripts ("anthropic", "scripted").
    backend: str

    def complete(self, request: ModelRequest) -> Reply: ...


def tool_uses(content: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The tool_use blocks of a reply, in order."""
    return [block for block in content if block.get("type") == "tool_use"]
