"""The tool-use loop every role runs: call the model, run its tools, until its final tool call.

Role-agnostic: the role only decides the system prompt, the task, and which final tool ends
the session. The loop fails closed: a session that hits a limit, stops without its final
tool, or refuses raises a typed :class:`~leanforge.errors.AgentStopped`, and nothing it did
counts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from leanforge.agent import compact, pricing
from leanforge.agent import limits as limits_mod
from leanforge.agent.limits import Limits
from leanforge.agent.model import Block, ContextOverflow, Model, ModelRequest, Reply, tool_uses
from leanforge.agent.protocol import client_tools, final_tool
from leanforge.agent.schema import validate
from leanforge.agent.stops import Step, next_step
from leanforge.agent.tally import Tally
from leanforge.agent.tools import ToolResult
from leanforge.agent.transcript import Transcript, clip
from leanforge.errors import (
    ContextExhausted,
    ModelRefused,
    ModelUnavailable,
    NoFinalAnswer,
    OutputTruncated,
    TimeLimitReached,
)
from leanforge.records import Usage


class ToolRunner(Protocol):
    def run(self, name: str, tool_input: object, *, timeout: float | None = None) -> ToolResult: ...


@dataclass(frozen=True)
class Job:
    """What one session is asked to do."""

    role: str
    model: str
    system: str
    prompt: str


@dataclass(frozen=True)
class Outcome:
    """A finished session: the final tool's validated input and what it cost."""

    final: Mapping[str, Any]
    usage: Usage
    turns: int
    backend: str
    session_id: str = ""
    #: The transcript file (JSONL) in the state dir.
    transcript: str = ""


NUDGE = (
    "You ended your turn without calling `{final}`. Nothing you did counts until you call it. "
    "Finish the work if anything is left, then call `{final}`."
)
CUT_TOOL_CALL = (
    "Your last reply was cut off by the max_tokens limit ({old}) while you were writing a tool "
    "call, so it was discarded and nothing ran. You now have {new} tokens; prefer smaller "
    "steps (write a large file in parts)."
)
CONTINUE = "Your reply hit the max_tokens limit. Continue where you stopped, then call `{final}`."


@dataclass
class ToolLoop(Tally):
    """Runs one session of ``job`` with ``model`` and ``tools``, writing ``transcript``."""

    model: Model
    tools: ToolRunner
    limits: Limits
    price: pricing.Price
    transcript: Transcript
    clock: Callable[[], float] = time.monotonic
    #: What the session has spent so far, readable even after it raised.
    usage: Usage = field(default_factory=Usage)
    turns: int = 0

    def run(self, job: Job) -> Outcome:
        started = self.clock()
        final_def = final_tool(job.role)
        final_name, schema = final_def["name"], final_def["input_schema"]
        tools = [*client_tools(), final_def]
        messages: list[Block] = [
            {"role": "user", "content": [{"type": "text", "text": job.prompt}]}
        ]
        max_tokens = self.limits.max_tokens
        nudged = grown = False
        invalid_finals = 0
        self.transcript.write(
            "start",
            role=job.role,
            model=job.model,
            backend=self.model.backend,
            tools=[t["name"] for t in tools],
            limits=self.limits.__dict__,
            system=job.system,
            prompt=job.prompt,
        )
        try:
            while True:
                messages = self._bounded(messages)
                request = ModelRequest(
                    job.model, job.system, tools, tuple(messages), max_tokens, self._left(started)
                )
                self._check(request, started)
                try:
                    reply = self.model.complete(request)
                except ContextOverflow as exc:
                    messages = self._overflowed(messages, str(exc))
                    continue
                except ModelUnavailable as exc:
                    if self.clock() - started < self.limits.wall_seconds:  # not out of time
                        raise
                    raise self.stopped(  # the call was cut short by the session's end
                        TimeLimitReached,
                        f"the session ran out of time ({self.limits.wall_seconds:g}s) during a "
                        "model call; raise timeouts.agent_session",
                    ) from exc
                self._account(reply)
                step = next_step(
                    reply.stop_reason,
                    reply.content,
                    nudged=nudged,
                    grown=grown,
                    max_tokens=max_tokens,
                    ceiling=self.limits.max_tokens_ceiling,
                )
                if step is Step.OVERFLOW:  # the reply was cut short: discard it
                    messages = self._overflowed(messages, "the model's context window filled up")
                    continue
                if step is Step.REFUSED:
                    raise self.stopped(
                        ModelRefused, "the model refused the task (stop_reason refusal)"
                    )
                if step is Step.TRUNCATED:
                    raise self.stopped(
                        OutputTruncated,
                        f"the model's tool call was cut by max_tokens ({max_tokens}) even with "
                        "more room; raise agent.max_tokens",
                    )
                if step is Step.GROW:
                    grown, new = True, min(max_tokens * 2, self.limits.max_tokens_ceiling)
                    self._say(messages, CUT_TOOL_CALL.format(old=max_tokens, new=new))
                    max_tokens = new
                    continue
                messages.append({"role": "assistant", "content": list(reply.content)})
                if step is Step.NO_FINAL:
                    raise self.stopped(
                        NoFinalAnswer, f"the model stopped twice without calling {final_name}"
                    )
                if step in (Step.NUDGE, Step.CONTINUE):
                    nudged = nudged or step is Step.NUDGE
                    note = NUDGE if step is Step.NUDGE else CONTINUE
                    messages.append(_user_text(note.format(final=final_name)))
                    self.transcript.write("note", note=step.value)
                    continue
                if step is Step.RESEND:
                    continue
                calls = tool_uses(reply.content)
                results, final = self._run_tools(calls, final_name, schema, started)
                if final is not None:
                    self.end()
                    return Outcome(final, self.usage, self.turns, self.model.backend)
                invalid_finals += sum(1 for c in calls if c.get("name") == final_name)
                if invalid_finals >= self.limits.max_invalid_finals:
                    raise self.stopped(
                        NoFinalAnswer,
                        f"the model sent invalid {final_name} input {invalid_finals} times",
                    )
                messages.append({"role": "user", "content": results})
        except BaseException as exc:
            self.end(exc)
            raise

    def _check(self, request: ModelRequest, started: float) -> None:
        size = len(json.dumps([request.system, list(request.tools), list(request.messages)]))
        estimate = pricing.estimate(
            pricing.estimate_tokens(size), request.max_tokens, self.price, self.limits.cache_ttl
        )
        stop = limits_mod.check(
            self.limits,
            turns=self.turns,
            elapsed=self.clock() - started,
            spent=self.usage.cost_usd,
            estimate=estimate,
        )
        if stop is not None:
            raise stop
        self.transcript.write(
            "request",
            turn=self.turns + 1,
            messages=len(request.messages),
            bytes=size,
            max_tokens=request.max_tokens,
            estimate_usd=round(estimate, 6),
        )

    def _account(self, reply: Reply) -> None:
        call_cost = pricing.cost(reply.usage, self.price)
        self.charge(reply.usage, call_cost)
        self.transcript.write(
            "response",
            turn=self.turns,
            content=list(reply.content),
            stop_reason=reply.stop_reason,
            usage=reply.usage.__dict__,
            cost_usd=round(call_cost, 6),
            request_id=reply.request_id,
        )

    def _run_tools(
        self,
        calls: list[Mapping[str, Any]],
        final_name: str,
        schema: Mapping[str, Any],
        started: float,
    ) -> tuple[list[Block], Mapping[str, Any] | None]:
        results: list[Block] = []
        final: Mapping[str, Any] | None = None
        for call in calls:
            began = self.clock()
            name, tool_input = str(call.get("name", "")), call.get("input", {})
            if name == final_name:
                errors = validate(schema, tool_input)
                if errors:
                    result = ToolResult(
                        f"{final_name} was not accepted: "
                        + "; ".join(errors)
                        + ". Fix it and call again.",
                        is_error=True,
                    )
                else:
                    assert isinstance(tool_input, dict)
                    final = tool_input
                    result = ToolResult(f"{final_name} accepted.")
            else:
                result = self.tools.run(name, tool_input, timeout=self._left(started))
            block: Block = {
                "type": "tool_result",
                "tool_use_id": call.get("id", ""),
                "content": result.text or "(no output)",
            }
            if result.is_error:
                block["is_error"] = True
            results.append(block)
            self.transcript.write(
                "tool",
                id=call.get("id", ""),
                name=name,
                input=tool_input,
                result=clip(result.text),
                is_error=result.is_error,
                duration=round(self.clock() - began, 3),
            )
        return results, final

    def _left(self, started: float) -> float:
        """Seconds a model call or a tool may take: the session's remaining time, at least 1."""
        return max(self.limits.wall_seconds - (self.clock() - started), 1.0)

    def _bounded(self, messages: list[Block]) -> list[Block]:
        if compact.size(messages) <= self.limits.high_water_chars:
            return messages
        shrunk, saved = compact.abridge(
            messages, self.limits.low_water_chars, self.limits.keep_recent
        )
        if saved:
            self.transcript.write("note", note=f"abridged {saved} characters of old tool traffic")
        return shrunk

    def _overflowed(self, messages: list[Block], why: str) -> list[Block]:
        shrunk, saved = compact.abridge(messages, compact.size(messages) // 2, keep_recent=2)
        if not saved:
            raise self.stopped(
                ContextExhausted,
                f"the conversation no longer fits the model's context ({why}) and nothing is "
                "left to abridge; split the task",
            )
        self.transcript.write(
            "note", note=f"context overflow: abridged {saved} characters", error=why
        )
        return shrunk

    def _say(self, messages: list[Block], text: str) -> None:
        """Add a note from forge to the last (user) message."""
        last = messages[-1]
        content = last["content"]
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        last["content"] = [*content, {"type": "text", "text": text}]
        self.transcript.write("note", note=text)


def _user_text(text: str) -> Block:
    return {"role": "user", "content": [{"type": "text", "text": text}]}
