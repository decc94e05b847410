"""Settings, in one place: built-in defaults -> .forge/config.toml -> environment -> flags.

Every field carries its documentation in ``metadata["doc"]``; ``forge init`` renders the file from
these, so the written config and this module cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leanforge.errors import ConfigError

CONFIG_RELPATH = Path(".forge") / "config.toml"
PLAYBOOK_RELPATH = Path(".forge") / "PLAYBOOK.md"
SANDBOX_MODES = ("auto", "bwrap", "none")


def _doc(text: str) -> Any:
    return {"doc": text}


@dataclass(frozen=True)
class Models:
    """Model id per role (any Messages-API model id)."""

    spec_writer: str = field(
        default="claude-sonnet-5-5", metadata=_doc("writes the spec and the acceptance tests")
    )
    engineer: str = field(
        default="claude-sonnet-5-5", metadata=_doc("implements the task in its worktree")
    )
    reviewer: str = field(default="claude-sonnet-5-5", metadata=_doc("each reviewer lens"))
    tech_lead: str = field(
        default="claude-sonnet-5-5", metadata=_doc("rewrites PLAYBOOK.md after a merge")
    )
    lab_worker: str = field(
        default="claude-sonnet-5-5", metadata=_doc("runs one metric-lab experiment")
    )
    lab_director: str = field(
        default="claude-sonnet-5-5", metadata=_doc("keeps the metric lab's notes")
    )
    lab_critic: str = field(
        default="claude-sonnet-5-5", metadata=_doc("critiques metric-lab experiments")
    )


@dataclass(frozen=True)
class Pipeline:
    """How `forge build` runs a task."""

    reviewers: int = field(
        default=3, metadata=_doc("reviewers that must all approve (one lens each, cycling)")
    )
    lenses: tuple[str, ...] = field(
        default=(
            "correctness",
            "spec-conformance",
            "security",
            "robustness",
            "maintainability",
            "performance",
        ),
        metadata=_doc(
            "reviewer lenses; reviewers take them from this list in order, cycling; a name is a built-in lens or .forge/lenses/NAME.md"
        ),
    )
    max_attempts: int = field(
        default=3, metadata=_doc("engineer attempts before a task is marked failed")
    )
    target_branch: str = field(
        default="",
        metadata=_doc('branch tasks start from and merge into ("" = the current branch)'),
    )
    spec_drafts: int = field(
        default=3,
        metadata=_doc(
            "spec-writer drafts per `forge spec` before it gives up (a refused draft goes back as feedback)"
        ),
    )


@dataclass(frozen=True)
class Budgets:
    """Spending limits; a budget stops an agent before it is exceeded."""

    task_usd: float = field(
        default=10.0, metadata=_doc("total spend for one task, all roles and attempts")
    )
    session_usd: float = field(default=3.0, metadata=_doc("spend for one agent session"))
    max_turns: int = field(default=60, metadata=_doc("model turns in one agent session"))


@dataclass(frozen=True)
class Gate:
    """The hardened gate."""

    test_command: str = field(
        default="{python} -m pytest -q",
        metadata=_doc(
            "the project's own test command, run in the worktree; {python} is the interpreter below"
        ),
    )
    plugins: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "pytest plugins the gate loads with -p (plugin autoload is off in the gate), e.g. ['pytest_asyncio']"
        ),
    )
    output_limit_bytes: int = field(
        default=1_000_000, metadata=_doc("stdout/stderr kept per run; the rest is cut")
    )

    @property
    def agent_command(self) -> str:
        """``test_command`` as an agent types it in its sandbox, where ``python`` is the project's."""
        return self.test_command.replace("{python}", "python")


@dataclass(frozen=True)
class Sandbox:
    """Where commands run."""

    mode: str = field(
        default="auto",
        metadata=_doc(
            '"bwrap" (bubblewrap), "none" (no isolation, warned on every run) or "auto" (bwrap if it works)'
        ),
    )
    env_passthrough: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "extra environment variables passed into the sandbox (secrets are never passed)"
        ),
    )


@dataclass(frozen=True)
class Timeouts:
    """Wall-clock limits, in seconds."""

    test_run: float = field(default=600.0, metadata=_doc("one pytest run of the locked tests"))
    project_suite: float = field(default=1200.0, metadata=_doc("the project's own test command"))
    agent_session: float = field(default=1800.0, metadata=_doc("one agent session"))


AGENT_BACKENDS = ("anthropic", "scripted", "claude-code")


@dataclass(frozen=True)
class Agent:
    """How agent sessions talk to a model."""

    backend: str = field(
        default="anthropic",
        metadata=_doc(
            '"anthropic" (the Messages API; needs ANTHROPIC_API_KEY), "scripted" (replays `script`, offline) or "claude-code" (the `claude` CLI)'
        ),
    )
    script: str = field(
        default="",
        metadata=_doc("the scripted backend's script: a JSON (or YAML) list of turns"),
    )
    max_tokens: int = field(
        default=16000, metadata=_doc("output tokens per model call (streamed when large)")
    )
    max_retries: int = field(
        default=4,
        metadata=_doc("SDK retries of 429, 5xx and 529 responses (honouring retry-after)"),
    )
    request_timeout: float = field(default=600.0, metadata=_doc("seconds per model request"))
    cache_ttl: str = field(default="5m", metadata=_doc('prompt-cache lifetime: "5m" or "1h"'))
    bash_timeout: float = field(
        default=300.0, metadata=_doc("seconds one bash tool command may run")
    )
    tool_output_chars: int = field(
        default=30000, metadata=_doc("characters of tool output the model sees (head and tail)")
    )
    claude_command: str = field(
        default="claude", metadata=_doc('the Claude Code CLI, for backend = "claude-code"')
    )


PRICE_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


@dataclass(frozen=True)
class Config:
    """All of forge's settings."""

    python: str = field(
        default="",
        metadata=_doc(
            "the project's interpreter; \"\" = the repo's .venv/bin/python if present, else python3 on PATH"
        ),
    )
    models: Models = field(default_factory=Models)
    pipeline: Pipeline = field(default_factory=Pipeline)
    budgets: Budgets = field(default_factory=Budgets)
    gate: Gate = field(default_factory=Gate)
    sandbox: Sandbox = field(default_factory=Sandbox)
    timeouts: Timeouts = field(default_factory=Timeouts)
    agent: Agent = field(default_factory=Agent)
    prices: Mapping[str, Mapping[str, float]] = field(
        default_factory=dict,
        metadata=_doc(
            'USD per million tokens by model id, overriding the built-in table, e.g. [prices."my-model"] with input, output, cache_write_5m, cache_write_1h, cache_read'
        ),
    )


#: Environment overrides: variable -> (section or "", key).
ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "FORGE_PYTHON": ("", "python"),
    "FORGE_SANDBOX": ("sandbox", "mode"),
    "FORGE_TEST_COMMAND": ("gate", "test_command"),
    "FORGE_BACKEND": ("agent", "backend"),
    "FORGE_SCRIPT": ("agent", "script"),
}


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(
            f"{where}: expected {type(default).__name__}, got {value!r}; fix .forge/config.toml"
        )
    return value


def _apply(obj: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown setting {key!r}; see `forge init` for the documented settings"
            )
        current = getattr(obj, key)
        if key == "prices" and isinstance(obj, Config):
            changes[key] = {**current, **_prices(value, f"{where}.prices")}
        elif dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}.{key}: expected a [{key}] table; fix .forge/config.toml"
                )
            changes[key] = _apply(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(value, current, f"{where}.{key}")
    return dataclasses.replace(obj, **changes)


def _prices(value: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: expected [prices."<model id>"] tables; fix .forge/config.toml')
    table: dict[str, dict[str, float]] = {}
    for model, rates in value.items():
        if not isinstance(rates, dict) or set(rates) != set(PRICE_KEYS):
            raise ConfigError(
                f'{where}."{model}" needs exactly {", ".join(PRICE_KEYS)} (USD per million tokens)'
            )
        for name, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
                raise ConfigError(f'{where}."{model}".{name} must be a non-negative number')
        table[str(model)] = {name: float(rate) for name, rate in rates.items()}
    return table


def validate(config: Config) -> Config:
    """Reject values that are well-typed but meaningless."""
    if config.sandbox.mode not in SANDBOX_MODES:
        raise ConfigError(
            f"sandbox.mode must be one of {', '.join(SANDBOX_MODES)}, not {config.sandbox.mode!r}"
        )
    if config.pipeline.reviewers < 1:
        raise ConfigError("pipeline.reviewers must be at least 1")
    if config.pipeline.max_attempts < 1:
        raise ConfigError("pipeline.max_attempts must be at least 1")
    if config.pipeline.spec_drafts < 1:
        raise ConfigError("pipeline.spec_drafts must be at least 1")
    if "{python}" not in config.gate.test_command and not config.gate.test_command.strip():
        raise ConfigError("gate.test_command must not be empty")
    if config.agent.backend not in AGENT_BACKENDS:
        raise ConfigError(
            f"agent.backend must be one of {', '.join(AGENT_BACKENDS)}, not {config.agent.backend!r}"
        )
    if config.agent.cache_ttl not in ("5m", "1h"):
        raise ConfigError(f'agent.cache_ttl must be "5m" or "1h", not {config.agent.cache_ttl!r}')
    for name in ("max_tokens", "tool_output_chars"):
        if getattr(config.agent, name) < 1:
            raise ConfigError(f"agent.{name} must be at least 1")
    if config.agent.max_retries < 0:
        raise ConfigError("agent.max_retries must not be negative")
    for name in ("request_timeout", "bash_timeout"):
        if getattr(config.agent, name) <= 0:
            raise ConfigError(f"agent.{name} must be positive")
    if config.budgets.max_turns < 1:
        raise ConfigError("budgets.max_turns must be at least 1")
    for name in ("task_usd", "session_usd"):
        if getattr(config.budgets, name) < 0:
            raise ConfigError(f"budgets.{name} must not be negative")
    for name in ("test_run", "project_suite", "agent_session"):
        if getattr(config.timeouts, name) <= 0:
            raise ConfigError(f"timeouts.{name} must be positive")
    return config


def load(
    workdir: Path, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Read the config of the repository checked out at ``workdir``.

    The file is read from the user's own checkout, never from a task worktree, so an engineer
    cannot loosen the gate by editing the config in its branch.
    """
    config = Config()
    path = workdir / CONFIG_RELPATH
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{CONFIG_RELPATH} is not valid TOML ({exc}); fix it or delete it to use defaults"
            ) from exc
        config = _apply(config, data, "config")
    env = os.environ if env is None else env
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            config = _apply(config, {section: {key: env[var]}} if section else {key: env[var]}, var)
    if overrides:
        config = _apply(config, overrides, "option")
    return validate(config)
