"""The claude-code backend: Claude Code's headless CLI runs the whole session in the worktree.

Claude Code has no way to call forge's custom final tool, so the prompt asks it to end with
the final tool's input as a JSON block; forge validates that against the same schema and, when
it is invalid, resumes the same Claude Code session with the errors (bounded).

Limits, documented in docs/agents.md: the CLI needs the network and its credentials, so it
runs outside forge's sandbox, under Claude Code's own permission rules; the budget is checked
after each run, not before each call.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from leanforge.agent import pricing
from leanforge.agent.limits import Limits
from leanforge.agent.loop import Job, Outcome
from leanforge.agent.model import CallUsage
from leanforge.agent.protocol import final_tool
from leanforge.agent.schema import validate
from leanforge.agent.tally import Tally
from leanforge.agent.transcript import Transcript, clip
from leanforge.errors import (
    BackendUnavailable,
    BudgetExceeded,
    ModelUnavailable,
    NoFinalAnswer,
    TimeLimitReached,
    TurnLimitReached,
)
from leanforge.records import Usage
from leanforge.sandbox.base import scrub_env
from leanforge.sandbox.process import run_process

#: Claude Code tools that change files; read-only roles are denied them.
EDIT_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")
READ_TOOLS = ("Read", "Glob", "Grep", "LS", "Bash")

WARNING = (
    "agent backend claude-code: the `claude` CLI runs outside forge's sandbox, under Claude "
    "Code's own permission rules"
)

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n```", re.DOTALL)


#: What the CLI needs beyond the sandbox allowlist: its credentials, its config under HOME,
#: and a proxy if there is one. Other secrets (GITHUB_TOKEN, cloud keys) are not passed.
CLAUDE_ENV = (
    "HOME",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)


def claude_env(env: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment: the sandbox allowlist, its own ``CLAUDE_*`` settings and CLAUDE_ENV."""
    out = scrub_env(env)
    out.update({k: v for k, v in env.items() if k in CLAUDE_ENV or k.startswith("CLAUDE_")})
    return out


def final_instructions(role: str) -> str:
    tool = final_tool(role)
    return (
        f"\n\nWhen you are done, end your last message with the input of `{tool['name']}` "
        f"({tool['description']}) as one JSON object in a ```json fenced block, matching this "
        f"JSON schema:\n```json\n{json.dumps(tool['input_schema'], indent=1)}\n```"
    )


def extract_final(text: str) -> Any:
    """The last JSON object in ``text``: a fenced block, else the text itself; None if none."""
    candidates = [*reversed(_FENCED.findall(text)), text.strip()]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def usage_of(result: Mapping[str, Any]) -> CallUsage:
    raw = result.get("usage")
    raw = raw if isinstance(raw, dict) else {}

    def num(key: str) -> int:
        value = raw.get(key, 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return CallUsage(
        input_tokens=num("input_tokens"),
        output_tokens=num("output_tokens"),
        cache_write_5m_tokens=num("cache_creation_input_tokens"),
        cache_read_tokens=num("cache_read_input_tokens"),
    )


def find_claude(command: str) -> str:
    """The path of the Claude Code CLI, or a one-line error saying how to get it."""
    program = shutil.which(command)
    if program is None:
        raise BackendUnavailable(
            f'agent.backend = "claude-code" needs the `{command}` CLI on PATH; install Claude '
            'Code (npm install -g @anthropic-ai/claude-code) or set agent.backend = "anthropic"'
        )
    return program


class ClaudeCodeAgent(Tally):
    """Runs ``claude -p`` headless in ``worktree`` and reads its JSON result."""

    backend = "claude-code"

    def __init__(
        self,
        *,
        program: str,
        worktree: Path,
        env: Mapping[str, str],
        read_only: bool,
        limits: Limits,
        price: pricing.Price,
        transcript: Transcript,
        warn: Callable[[str], None],
    ) -> None:
        self.program = program
        self.worktree = worktree
        self.env = claude_env(env)
        self.read_only = read_only
        self.limits = limits
        self.price = price
        self.transcript = transcript
        self.warn = warn
        self.usage = Usage()
        self.turns = 0
        self.started = time.monotonic()

    def argv(self, job: Job, prompt: str, resume: str | None) -> list[str]:
        argv = [self.program, "-p", prompt, "--output-format", "json", "--model", job.model]
        argv += ["--max-turns", str(max(self.limits.max_turns - self.turns, 1))]
        argv += ["--append-system-prompt", job.system]
        if self.read_only:
            argv += ["--disallowedTools", *EDIT_TOOLS, "--allowedTools", *READ_TOOLS]
        else:
            argv += ["--permission-mode", "acceptEdits", "--allowedTools", *READ_TOOLS, *EDIT_TOOLS]
        if resume:
            argv += ["--resume", resume]
        return argv

    def run(self, job: Job) -> Outcome:
        self.warn(WARNING)
        tool = final_tool(job.role)
        self.transcript.write(
            "start",
            role=job.role,
            model=job.model,
            backend=self.backend,
            tools=[tool["name"]],
            system=job.system,
            prompt=job.prompt,
            warning=WARNING,
        )
        prompt, resume = job.prompt + final_instructions(job.role), None
        try:
            for _ in range(self.limits.max_invalid_finals):
                result = self._once(job, prompt, resume)
                final = extract_final(str(result.get("result", "")))
                errors = (
                    ["no JSON object found"]
                    if final is None
                    else validate(tool["input_schema"], final)
                )
                if not errors:
                    self.end()
                    return Outcome(final, self.usage, self.turns, self.backend)
                self.transcript.write("note", note="invalid final answer", errors=errors)
                resume = str(result.get("session_id") or "") or None
                prompt = (
                    f"Your final JSON was not accepted: {'; '.join(errors)}. Reply with a corrected "
                    f"input for `{tool['name']}` as one JSON object in a ```json fenced block."
                )
            raise self.stopped(
                NoFinalAnswer,
                f"claude-code gave no valid {tool['name']} input in {self.limits.max_invalid_finals} tries",
            )
        except BaseException as exc:
            self.end(exc)
            raise

    def _once(self, job: Job, prompt: str, resume: str | None) -> dict[str, Any]:
        if self.usage.cost_usd >= self.limits.budget_usd:
            raise self.stopped(
                BudgetExceeded,
                f"the session has spent ${self.usage.cost_usd:.4f} of its ${self.limits.budget_usd:.2f} budget",
            )
        # One wall-clock limit for the session, however many resumed runs it takes.
        left = self.limits.wall_seconds - (time.monotonic() - self.started)
        out_of_time = self.stopped(
            TimeLimitReached,
            f"claude-code ran out of time ({self.limits.wall_seconds:g}s); raise timeouts.agent_session",
        )
        if left <= 0:
            raise out_of_time
        run = run_process(
            self.argv(job, prompt, resume),
            cwd=self.worktree,
            env=self.env,
            timeout=left,
            output_limit=4_000_000,
        )
        self.transcript.write(
            "response",
            returncode=run.returncode,
            stdout=clip(run.stdout),
            stderr=clip(run.stderr),
            duration=round(run.duration, 3),
        )
        if run.timed_out:
            raise out_of_time
        try:
            result = json.loads(run.stdout)
        except json.JSONDecodeError:
            result = None
        if not isinstance(result, dict):
            tail = (run.stderr.strip() or run.stdout.strip())[-300:]
            raise ModelUnavailable(
                f"`claude` exited {run.returncode} without a JSON result: {tail or 'no output'}"
            )
        self._account(result)
        if result.get("subtype") == "error_max_turns":
            raise self.stopped(
                TurnLimitReached,
                f"claude-code used all {self.limits.max_turns} turns without finishing; raise budgets.max_turns",
            )
        if result.get("is_error"):
            raise ModelUnavailable(f"claude-code failed: {str(result.get('result', ''))[:300]}")
        if self.usage.cost_usd > self.limits.budget_usd:
            raise self.stopped(
                BudgetExceeded,
                f"claude-code spent ${self.usage.cost_usd:.4f}, past the session budget of "
                f"${self.limits.budget_usd:.2f}; its result does not count",
            )
        return result

    def _account(self, result: Mapping[str, Any]) -> None:
        usage = usage_of(result)
        reported = result.get("total_cost_usd")
        spent = (
            float(reported)
            if isinstance(reported, int | float) and not isinstance(reported, bool)
            else pricing.cost(usage, self.price)
        )
        turns = result.get("num_turns")
        self.charge(
            usage, spent, turns if isinstance(turns, int) and not isinstance(turns, bool) else 1
        )
