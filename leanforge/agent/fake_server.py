"""A local fake of the Anthropic Messages API, so the real SDK runs against scripted replies.

``anthropic.Anthropic(base_url=server.url, api_key="...")`` works unchanged against it: JSON and
SSE streaming replies, API errors with their headers (so the SDK's retries run for real), and a
prompt-cache simulation (``fake_cache``) that reports usage the way the real API would. Each
request to ``POST /v1/messages`` consumes one scripted step; tests, benchmarks and demos share it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from leanforge.agent import fake_cache
from leanforge.agent.routing import body_keys
from leanforge.localhttp import Answer, LocalServer

MESSAGES_PATH = "/v1/messages"


@dataclass(frozen=True)
class Captured:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    at: float
    method: str = "POST"


@dataclass(frozen=True)
class Reply:
    """A scripted assistant message; ``usage=None`` means simulate it."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any] | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Failure:
    """A scripted API error response."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


Step = Reply | Failure
#: A step, or a function of the request body that makes one (to echo tool_use ids, say).
StepSource = Step | Callable[[dict[str, Any]], Step]


def text(s: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": s}


def tool_use(name: str, input: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    """A tool_use content block; without an id the server assigns ``toolu_fake_<n>`` when sent."""
    block: dict[str, Any] = {"type": "tool_use", "name": name, "input": input}
    return block if id is None else {**block, "id": id}


def reply(
    content: Iterable[dict[str, Any]],
    stop_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    delay: float = 0.0,
) -> Reply:
    """A reply step; ``stop_reason`` defaults to ``tool_use`` if any block is one, else ``end_turn``."""
    blocks = [dict(block) for block in content]
    if stop_reason is None:
        calls = any(block.get("type") == "tool_use" for block in blocks)
        stop_reason = "tool_use" if calls else "end_turn"
    return Reply(blocks, stop_reason, usage, delay)


def error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> Failure:
    """An error step, e.g. ``error(429, "rate_limit_error", "slow down", {"retry-after": "0.2"})``."""
    return Failure(status, error_type, message, dict(headers or {}))


def _json_response(
    status: int, payload: dict[str, Any], headers: dict[str, str], delay: float = 0.0
) -> Answer:
    data = json.dumps(payload).encode()
    return Answer(status, {"content-type": "application/json", **headers}, [data], delay)


def _error_response(failure: Failure, request_id: str) -> Answer:
    payload = {"type": "error", "error": {"type": failure.error_type, "message": failure.message}}
    return _json_response(failure.status, payload, {"request-id": request_id, **failure.headers})


def stream_events(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The SSE events the real API sends for a message, in order; each names itself in ``type``."""
    final = message["usage"]
    start_usage = {**final, "output_tokens": min(1, final["output_tokens"])}
    shell = {**message, "content": [], "stop_reason": None, "usage": start_usage}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": shell}, {"type": "ping"}]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": final["output_tokens"]}
    return [
        *events,
        {"type": "message_delta", "delta": delta, "usage": usage},
        {"type": "message_stop"},
    ]


def _block_events(index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    start = block
    if block.get("type") == "text":
        start = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": part} for part in _split(block["text"], 2)]
    elif block.get("type") == "tool_use":
        # The real API streams tool input as JSON fragments that only parse once joined.
        start = {**block, "input": {}}
        fragments = _split(json.dumps(block["input"]), 3)
        deltas = [{"type": "input_json_delta", "partial_json": part} for part in fragments]
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _split(s: str, parts: int) -> list[str]:
    size = max(1, -(-len(s) // parts))
    return [s[i : i + size] for i in range(0, len(s), size)] or [""]


def _sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class MessagesServer(LocalServer):
    """A scripted Messages API on ``127.0.0.1`` at a random port; use as a context manager."""

    def __init__(
        self,
        steps: Iterable[StepSource] = (),
        *,
        context_window: int | None = None,
        cache_lookback: int = 20,
    ) -> None:
        self.context_window = context_window
        self.cache_lookback = cache_lookback
        self.requests: list[Captured] = []
        self._steps: deque[StepSource] = deque(steps)
        self._routes: dict[str, deque[StepSource]] = {}
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._tool_ids = itertools.count(1)

    @property
    def pending(self) -> int:
        """How many scripted steps are still unconsumed, routed ones included."""
        with self._lock:
            return len(self._steps) + sum(map(len, self._routes.values()))

    def route(self, key: str, *steps: StepSource) -> None:
        """Append steps for the sessions of one role (``engineer``) or lens (``reviewer/security``).

        A request takes the next step of the most specific route it matches (see
        ``leanforge.agent.routing``), else the next unrouted step.
        """
        with self._lock:
            self._routes.setdefault(key, deque()).extend(steps)

    def add(self, *steps: StepSource) -> None:
        """Append steps to the script."""
        with self._lock:
            self._steps.extend(steps)

    def message_requests(self, key: str | None = None) -> list[Captured]:
        """The ``POST /v1/messages`` requests received, in order; with ``key``, only that route's."""
        with self._lock:
            got = [r for r in self.requests if r.method == "POST" and r.path == MESSAGES_PATH]
        return [r for r in got if key is None or key in body_keys(r.body)]

    @staticmethod
    def prompt(request: Captured) -> str:
        """A request's first user message (the session's task prompt) as text."""
        content = request.body["messages"][0]["content"]
        if isinstance(content, str):
            return content
        return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")

    def answer(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        path = urlsplit(target).path
        # One request at a time: step order, ids and the cache must not interleave under retries.
        with self._lock:
            n = next(self._ids)
            request_id = f"req_fake_{n}"
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else {}
            self.requests.append(Captured(path, headers, body, raw, time.monotonic(), method))
            if method != "POST" or path != MESSAGES_PATH:
                failure = error(404, "not_found_error", f"fake server: no route {method} {path}")
                return _error_response(failure, request_id)
            if not isinstance(parsed, dict):
                failure = error(400, "invalid_request_error", "fake server: body is not JSON")
                return _error_response(failure, request_id)
            return self._answer(body, n, request_id)

    def _answer(self, body: dict[str, Any], n: int, request_id: str) -> Answer:
        pieces = fake_cache.layout(body)
        why = fake_cache.refusal(pieces, self.context_window)
        if why is not None:
            return _error_response(error(400, "invalid_request_error", why), request_id)
        queue = next((self._routes[k] for k in body_keys(body) if self._routes.get(k)), self._steps)
        if not queue:
            return _error_response(
                error(500, "api_error", "fake server: script exhausted"), request_id
            )
        source = queue.popleft()
        try:
            step = source(body) if callable(source) else source
        except Exception as exc:  # a failing step function is a test bug: show it to the client
            step = error(500, "api_error", f"fake server: step raised {exc!r}")
        if isinstance(step, Failure):
            return _error_response(step, request_id)
        outcome = fake_cache.simulate(pieces, self._cache, self.cache_lookback)
        self._cache.update(outcome.writes)
        content = [self._with_id(block) for block in step.content]
        if step.usage is not None:
            usage = fake_cache.complete_usage(step.usage)
        else:
            usage = {**outcome.usage, "output_tokens": fake_cache.count_tokens(content)}
        message = {
            "id": f"msg_fake_{n}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": step.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        if body.get("stream") is True:
            chunks = [_sse(event) for event in stream_events(message)]
            headers = {"content-type": "text/event-stream", "request-id": request_id}
            return Answer(200, headers, chunks, step.delay)
        return _json_response(200, message, {"request-id": request_id}, step.delay)

    def _with_id(self, block: dict[str, Any]) -> dict[str, Any]:
        if block.get("type") == "tool_use" and not block.get("id"):
            return {**block, "id": f"toolu_fake_{next(self._tool_ids)}"}
        return dict(block)
