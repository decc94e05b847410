"""Prompt-cache arithmetic for the fake Messages server: token counts, breakpoints, hits and writes.

Pure functions over a request body, so the benchmark of forge's ``cache_control`` placement can
trust numbers that follow the real API's rules (prefix hashing, at most four breakpoints, a
lookback window of blocks before each breakpoint) without the server's I/O in the way.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The real API rejects requests with more breakpoints than this.
MAX_BREAKPOINTS = 4
#: Tokens charged for a message's role framing, added to its first block.
MESSAGE_OVERHEAD = 4
_TTLS = ("5m", "1h")


@dataclass(frozen=True)
class Piece:
    """One prompt block: its tokens, the hash of the prompt up to it, and its ttl if a breakpoint."""

    tokens: int
    prefix_hash: str
    ttl: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A request's prompt usage (no ``output_tokens``) and the prefixes it stores in the cache."""

    usage: dict[str, Any]
    writes: dict[str, str] = field(default_factory=dict)


def strip_cache_control(value: Any) -> Any:
    """The value with every ``cache_control`` key removed, at any depth."""
    if isinstance(value, dict):
        return {k: strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_cache_control(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """Stable JSON of a prompt piece, ignoring ``cache_control`` (it does not change the prefix)."""
    return json.dumps(strip_cache_control(value), sort_keys=True, separators=(",", ":"))


def count_tokens(value: Any) -> int:
    """A rough, deterministic token count: four characters of canonical JSON per token."""
    return math.ceil(len(canonical(value)) / 4)


def layout(body: Mapping[str, Any]) -> list[Piece]:
    """The prompt as blocks in the order the API caches them: tools, then system, then messages."""
    entries: list[tuple[str, Any]] = [("tool", tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        entries.append(("system", {"type": "text", "text": system}))
    elif system:
        entries.extend(("system", block) for block in system)
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for i, block in enumerate(blocks):
            # The role marks where a message starts, so "two messages" and "one message with
            # two blocks" are different prefixes, as they are to the real cache.
            entries.append((f"message:{message.get('role')}" if i == 0 else "block", block))
    running = hashlib.sha256()
    pieces = []
    for marker, block in entries:
        text = canonical(block)
        running.update(f"{marker}\x00{text}\x00".encode())
        overhead = MESSAGE_OVERHEAD if marker.startswith("message:") else 0
        tokens = math.ceil(len(text) / 4) + overhead
        pieces.append(Piece(tokens, running.hexdigest(), _ttl(block)))
    return pieces


def _ttl(block: Any) -> str | None:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict):
        return None
    return "1h" if control.get("ttl") == "1h" else "5m"


def breakpoints(pieces: Sequence[Piece]) -> list[int]:
    """Positions of the blocks that carry ``cache_control``."""
    return [i for i, piece in enumerate(pieces) if piece.ttl is not None]


def total_tokens(pieces: Sequence[Piece]) -> int:
    """The whole prompt's tokens: input plus cache reads plus cache writes."""
    return sum(piece.tokens for piece in pieces)


def refusal(pieces: Sequence[Piece], context_window: int | None = None) -> str | None:
    """Why the real API would reject this prompt with a 400 before any model runs, if it would."""
    marks = len(breakpoints(pieces))
    if marks > MAX_BREAKPOINTS:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {marks}."
    total = total_tokens(pieces)
    if context_window is not None and total > context_window:
        return f"prompt is too long: {total} tokens > {context_window} maximum"
    return None


def simulate(pieces: Sequence[Piece], cache: Mapping[str, str], lookback: int = 20) -> Outcome:
    """Split a prompt into cache reads, cache writes and uncached input, as the real API does.

    A read is the longest cached prefix ending at a breakpoint or up to ``lookback`` blocks
    before one; everything after it up to the last breakpoint is written, each segment at the
    ttl of the breakpoint that closes it; everything after the last breakpoint is plain input.
    """
    marks = breakpoints(pieces)
    tokens = [piece.tokens for piece in pieces]
    if not marks:
        return Outcome(usage(input_tokens=sum(tokens)))
    candidates = {j for b in marks for j in range(max(b - lookback, 0), b + 1)}
    hit = max((j for j in candidates if pieces[j].prefix_hash in cache), default=-1)
    written = dict.fromkeys(_TTLS, 0)
    start = hit + 1
    for b in marks:
        if b >= start:
            written[pieces[b].ttl or "5m"] += sum(tokens[start : b + 1])
            start = b + 1
    return Outcome(
        usage(
            input_tokens=sum(tokens[marks[-1] + 1 :]),
            cache_read=sum(tokens[: hit + 1]),
            write_5m=written["5m"],
            write_1h=written["1h"],
        ),
        writes={pieces[b].prefix_hash: pieces[b].ttl or "5m" for b in marks},
    )


def usage(
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read: int = 0,
    write_5m: int = 0,
    write_1h: int = 0,
) -> dict[str, Any]:
    """A usage object in the Messages API's shape."""
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        },
    }


def complete_usage(given: Mapping[str, Any]) -> dict[str, Any]:
    """A scripted usage with its missing keys filled in with zeros.

    A missing ``cache_creation`` split puts every written token at the default 5m ttl, so the
    split always adds up to ``cache_creation_input_tokens``.
    """
    written = int(given.get("cache_creation_input_tokens", 0))
    split = given.get("cache_creation") or {}
    full = usage(
        input_tokens=int(given.get("input_tokens", 0)),
        output_tokens=int(given.get("output_tokens", 0)),
        cache_read=int(given.get("cache_read_input_tokens", 0)),
        write_5m=int(split.get("ephemeral_5m_input_tokens", 0 if split else written)),
        write_1h=int(split.get("ephemeral_1h_input_tokens", 0)),
    )
    full["cache_creation_input_tokens"] = written
    return {**full, **{k: v for k, v in given.items() if k not in full}}
