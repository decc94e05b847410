"""Run one agent session for a role: pick the backend, bind the tools, write the transcript,
and record what it cost in the task record.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from pathlib import Path

from leanforge.agent import pricing
from leanforge.agent.claude_code import ClaudeCodeAgent, find_claude
from leanforge.agent.limits import Limits
from leanforge.agent.loop import Job, Outcome, ToolLoop
from leanforge.agent.model import Model
from leanforge.agent.protocol import ROLES, WRITING_ROLES
from leanforge.agent.scripted import ScriptError
from leanforge.agent.tools import Toolbox
from leanforge.agent.transcript import Redactor, Transcript, secret_values
from leanforge.clock import random_token
from leanforge.context import Forge
from leanforge.errors import ForgeError, UsageError
from leanforge.records import Usage
from leanforge.state import forge_lock


def model_for(forge: Forge, role: str, override: str | None = None) -> str:
    """The model id for ``role``: ``--model`` first, then [models] in the config."""
    return override or str(getattr(forge.config.models, role))


def limits_for(forge: Forge, budget_usd: float | None = None) -> Limits:
    """The session limits from the config; ``budget_usd`` (what the task has left) can only lower them."""
    budget = forge.config.budgets.session_usd
    if budget_usd is not None:
        budget = min(budget, budget_usd)
    return Limits(
        max_turns=forge.config.budgets.max_turns,
        wall_seconds=forge.config.timeouts.agent_session,
        budget_usd=budget,
        max_tokens=forge.config.agent.max_tokens,
        max_tokens_ceiling=max(64_000, forge.config.agent.max_tokens),
        cache_ttl=forge.config.agent.cache_ttl,
    )


def price_table(forge: Forge) -> dict[str, pricing.Price]:
    return {model: pricing.Price(**rates) for model, rates in forge.config.prices.items()}


def make_model(forge: Forge) -> Model:
    """The configured Messages-API backend (anthropic or scripted)."""
    agent = forge.config.agent
    if agent.backend == "scripted":
        if not agent.script:
            raise ScriptError(
                'agent.backend = "scripted" needs agent.script (or FORGE_SCRIPT): a JSON list of turns'
            )
        return forge.scripted_model
    # Imported here: the SDK takes over a second to import, and most commands never call it.
    from leanforge.agent.anthropic_model import AnthropicModel

    return AnthropicModel(forge.anthropic_client, ttl=agent.cache_ttl)


def transcript_path(
    forge: Forge, session_id: str, slug: str | None, folder: Path | None = None
) -> Path:
    if folder is None:
        folder = forge.store.transcripts_dir(slug) if slug else forge.paths.state_dir / "sessions"
    return folder / f"{session_id}.jsonl"


def record_usage(forge: Forge, slug: str, role: str, usage: Usage) -> None:
    """Add a session's usage to the task record, under the repository lock."""
    if usage.calls == 0 or not forge.store.exists(slug):
        return
    with forge_lock(forge.paths):
        record = forge.store.get(slug)
        totals = dict(record.usage)
        totals[role] = totals.get(role, Usage()) + usage
        forge.store.put(dataclasses.replace(record, usage=totals))


def run_session(
    forge: Forge,
    *,
    role: str,
    system: str,
    prompt: str,
    worktree: Path,
    slug: str | None = None,
    model_id: str | None = None,
    budget_usd: float | None = None,
    read_only: bool | None = None,
    model: Model | None = None,
    transcripts: Path | None = None,
) -> Outcome:
    """Run ``role`` in ``worktree`` until its final tool call; raises AgentStopped otherwise.

    ``model`` injects a Messages-API model (tests, demos); by default the configured backend
    is used. Reviewers, directors and critics are read-only unless ``read_only`` says otherwise.
    ``transcripts`` is the folder for the transcript (default: the task's, or state/sessions).
    Usage is added to the task record of ``slug`` whether the session succeeds or not.
    """
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if read_only is None:
        read_only = role not in WRITING_ROLES
    if not worktree.is_dir():
        raise UsageError(
            f"the worktree {worktree} does not exist; `forge show SLUG` gives the path"
        )
    if budget_usd is not None and (math.isnan(budget_usd) or budget_usd <= 0):
        raise UsageError(
            "the budget for this session is used up; raise budgets.task_usd or --max-cost"
        )
    job = Job(role=role, model=model_for(forge, role, model_id), system=system, prompt=prompt)
    limits = limits_for(forge, budget_usd)
    quote = pricing.price_for(job.model, price_table(forge))
    if quote.warning:
        forge.warn(quote.warning)
    # Backend problems (no key, no CLI, a bad script) fail before anything is written.
    claude = model is None and forge.config.agent.backend == "claude-code"
    program = find_claude(forge.config.agent.claude_command) if claude else ""
    if model is None and not claude:
        model = make_model(forge)
    session_id = f"{forge.clock.now():%Y%m%dT%H%M%S}-{role}-{random_token(3)}"
    path = transcript_path(forge, session_id, slug, transcripts)
    redactor = Redactor(secret_values(forge.env))
    runner: ToolLoop | ClaudeCodeAgent | None = None
    # Resolved before anything is written: a missing interpreter or sandbox fails cleanly.
    executor, python = (forge.executor, forge.python) if model is not None else (None, None)
    scratch = Path(tempfile.mkdtemp(prefix="forge-agent-"))
    try:
        with Transcript(path, redactor) as transcript:
            if quote.warning:
                transcript.write("note", note=quote.warning)
            if model is None or executor is None or python is None:
                runner = ClaudeCodeAgent(
                    program=program,
                    worktree=worktree,
                    env=forge.env,
                    read_only=read_only,
                    limits=limits,
                    price=quote.price,
                    transcript=transcript,
                    warn=forge.warn,
                )
            else:
                tools = Toolbox(
                    worktree=worktree,
                    executor=executor,
                    python=python,
                    scratch=scratch,
                    source_env=forge.env,
                    passthrough=forge.config.sandbox.env_passthrough,
                    read_only=read_only,
                    bash_timeout=forge.config.agent.bash_timeout,
                    output_limit=forge.config.agent.tool_output_chars,
                )
                runner = ToolLoop(
                    model=model,
                    tools=tools,
                    limits=limits,
                    price=quote.price,
                    transcript=transcript,
                )
            outcome = runner.run(job)
    except BaseException:
        if slug is not None and runner is not None:
            try:  # never hide why the session failed behind a bookkeeping error
                record_usage(forge, slug, role, runner.usage)
            except ForgeError as exc:
                forge.warn(f"could not record this session's usage in task {slug}: {exc}")
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if slug is not None:
        record_usage(forge, slug, role, runner.usage)
    return dataclasses.replace(outcome, session_id=session_id, transcript=str(path))
