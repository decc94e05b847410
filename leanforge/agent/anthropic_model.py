"""The real model: Anthropic's Messages API through the official SDK.

Where forge puts ``cache_control`` (three breakpoints of the four allowed):

1. the system block: tools render before system, so this caches the whole stable prefix;
2. the last block of the latest message: this turn's conversation is written to the cache;
3. the last block of the user message before it: where the previous call wrote, so this call
   reads it even when a turn added more than the API's 20-block lookback (many parallel
   tool results).

Retries (429, 5xx, 529, with ``retry-after``) are the SDK's own; forge sets how many and the
request timeout, and turns what still fails into one-line errors.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import anthropic

from leanforge.agent.model import Block, CallUsage, ContextOverflow, ModelRequest, Reply
from leanforge.errors import MissingApiKey, ModelUnavailable

#: Above this many output tokens the SDK refuses a non-streaming call (it could outlast 10 min).
NONSTREAMING_MAX_TOKENS = 21_333

_OVERFLOW_MARKERS = (
    "prompt is too long",
    "context window",
    "context_length",
    "exceed context limit",
    "too many tokens",
)

#: Block types the API lets carry cache_control.
_CACHEABLE = frozenset({"text", "image", "document", "tool_use", "tool_result"})


def cache_control(ttl: str) -> dict[str, str]:
    return {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral", "ttl": ttl}


def _mark(message: Block, marker: Mapping[str, str]) -> None:
    """Put ``marker`` on the message's last cacheable block, if it has one."""
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = [{"type": "text", "text": content, "cache_control": dict(marker)}]
        return
    for block in reversed(content if isinstance(content, list) else []):
        if isinstance(block, dict) and block.get("type") in _CACHEABLE:
            block["cache_control"] = dict(marker)
            return


def request_params(request: ModelRequest, ttl: str = "5m") -> dict[str, Any]:
    """The Messages API parameters for ``request``, with forge's cache breakpoints (pure)."""
    marker = cache_control(ttl)
    messages: list[Block] = copy.deepcopy(list(request.messages))
    if messages:
        _mark(messages[-1], marker)
        earlier_user = next((m for m in reversed(messages[:-1]) if m.get("role") == "user"), None)
        if earlier_user is not None:
            _mark(earlier_user, marker)
    return {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": [{"type": "text", "text": request.system, "cache_control": marker}],
        "tools": [dict(tool) for tool in request.tools],
        "messages": messages,
    }


def needs_stream(model: str, max_tokens: int) -> bool:
    """Whether the SDK requires streaming for this many output tokens of ``model``."""
    try:  # the SDK's own per-model limits (a few older models stream above 8192)
        from anthropic._constants import MODEL_NONSTREAMING_TOKENS
    except ImportError:  # pragma: no cover - depends on the SDK version
        MODEL_NONSTREAMING_TOKENS = {}
    limit = MODEL_NONSTREAMING_TOKENS.get(model, NONSTREAMING_MAX_TOKENS)
    return max_tokens > limit


def usage_of(raw: Any, ttl: str) -> CallUsage:
    """forge's usage from the SDK's, splitting cache writes by TTL when the API says how."""
    written = int(getattr(raw, "cache_creation_input_tokens", 0) or 0)
    split = getattr(raw, "cache_creation", None)
    five = int(getattr(split, "ephemeral_5m_input_tokens", 0) or 0) if split else 0
    hour = int(getattr(split, "ephemeral_1h_input_tokens", 0) or 0) if split else 0
    if split is None or five + hour != written:  # no breakdown: it was written at our TTL
        five, hour = (0, written) if ttl == "1h" else (written, 0)
    return CallUsage(
        input_tokens=int(raw.input_tokens or 0),
        output_tokens=int(raw.output_tokens or 0),
        cache_write_5m_tokens=five,
        cache_write_1h_tokens=hour,
        cache_read_tokens=int(getattr(raw, "cache_read_input_tokens", 0) or 0),
    )


def client_from_env(
    env: Mapping[str, str], *, max_retries: int, timeout: float
) -> anthropic.Anthropic:
    """An SDK client configured as the SDK would from ``env``, or a one-line error on no key."""
    key = env.get("ANTHROPIC_API_KEY") or None
    token = env.get("ANTHROPIC_AUTH_TOKEN") or None
    if key is None and token is None:
        raise MissingApiKey(
            "ANTHROPIC_API_KEY is not set; export ANTHROPIC_API_KEY=<your key> "
            '(from console.anthropic.com), or use agent.backend = "scripted" to run offline'
        )
    return anthropic.Anthropic(
        api_key=key,
        auth_token=token,
        base_url=env.get("ANTHROPIC_BASE_URL") or None,
        max_retries=max_retries,
        timeout=timeout,
    )


class AnthropicModel:
    """A :class:`~leanforge.agent.model.Model` backed by the SDK client it is given."""

    backend = "anthropic"

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        ttl: str = "5m",
        placement: Callable[[ModelRequest, str], dict[str, Any]] = request_params,
    ) -> None:
        """``placement`` builds the request parameters: where the cache breakpoints go."""
        self.client = client
        self.ttl = ttl
        self.placement = placement

    def complete(self, request: ModelRequest) -> Reply:
        params = self.placement(request, self.ttl)
        call: dict[str, Any] = {}
        if request.timeout is not None:  # never wait past the session's end
            call["timeout"] = min(request.timeout, _seconds(self.client.timeout))
        try:
            if needs_stream(request.model, request.max_tokens):
                with self.client.messages.stream(**params, **call) as events:
                    message = events.get_final_message()
            else:
                message = self.client.messages.create(**params, **call)
        except anthropic.BadRequestError as exc:
            text = _message(exc)
            if any(marker in text.lower() for marker in _OVERFLOW_MARKERS):
                raise ContextOverflow(text) from exc
            raise ModelUnavailable(f"the model API rejected the request (400): {text}") from exc
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise ModelUnavailable(
                f"the model API refused the credentials ({exc.status_code}): {_message(exc)}; "
                "check ANTHROPIC_API_KEY"
            ) from exc
        except anthropic.NotFoundError as exc:
            raise ModelUnavailable(
                f"the model API does not know {request.model!r} (404): {_message(exc)}; "
                "fix the model id in [models] of .forge/config.toml or --model"
            ) from exc
        except anthropic.APIStatusError as exc:
            if exc.status_code == 413:  # the request body itself is too large
                raise ContextOverflow(_message(exc)) from exc
            raise ModelUnavailable(
                f"the model API failed with {exc.status_code} after "
                f"{self.client.max_retries} retries: {_message(exc)}"
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise ModelUnavailable(
                f"cannot reach the model API at {self.client.base_url} "
                f"after {self.client.max_retries} retries ({exc}); check the network or "
                "ANTHROPIC_BASE_URL"
            ) from exc
        return Reply(
            content=tuple(_block(b) for b in message.content),
            stop_reason=str(message.stop_reason or ""),
            usage=usage_of(message.usage, self.ttl),
            model=message.model,
            request_id=str(getattr(message, "_request_id", "") or ""),
        )


def _seconds(timeout: Any) -> float:
    """The SDK client's timeout (a number or an httpx Timeout) in seconds."""
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else float("inf")


def _block(block: Any) -> Block:
    data: Block = block.model_dump(mode="json", exclude_none=True)
    return data


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(exc)
