"""Wiring: the real adapters for one repository, built once per command and injected onward."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

if TYPE_CHECKING:
    import anthropic

from leanforge import config as config_mod
from leanforge import interpreter
from leanforge.agent.scripted import ScriptedModel, load_routed_script
from leanforge.clock import Clock, SystemClock
from leanforge.config import Config
from leanforge.gate.passes import Runner
from leanforge.sandbox.base import Executor
from leanforge.sandbox.factory import layout_for, make_executor
from leanforge.state import RepoPaths, discover
from leanforge.store import TaskStore


def _stderr_warn(message: str) -> None:
    import click

    click.secho(f"warning: {message}", fg="yellow", err=True)


@dataclass
class Forge:
    repo: pygit2.Repository
    paths: RepoPaths
    config: Config
    clock: Clock = field(default_factory=SystemClock)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    warn: Callable[[str], None] = _stderr_warn
    executor_override: Executor | None = None

    @cached_property
    def store(self) -> TaskStore:
        return TaskStore(self.paths)

    @cached_property
    def python(self) -> Path:
        """The project's real interpreter (no shim), checked once to have pytest."""
        python = interpreter.resolve_python(self.config, self.paths.workdir)
        return interpreter.probe_interpreter(python, cwd=self.paths.workdir)[0]

    @cached_property
    def executor(self) -> Executor:
        if self.executor_override is not None:
            return self.executor_override
        return make_executor(
            self.config.sandbox.mode, layout_for(self.paths, self.python), self.warn
        )

    @cached_property
    def scripted_model(self) -> ScriptedModel:
        """The scripted backend, loaded once: its queues run on across every session of a command."""
        return load_routed_script(self.paths.workdir / self.config.agent.script).model()

    @cached_property
    def anthropic_client(self) -> anthropic.Anthropic:
        """One SDK client for every session of a command: it pools connections, and making one
        (its TLS context) costs about 70 ms."""
        from leanforge.agent.anthropic_model import client_from_env

        agent = self.config.agent
        return client_from_env(
            self.env, max_retries=agent.max_retries, timeout=agent.request_timeout
        )

    def fork(self) -> Forge:
        """The same settings for another thread, with its own repository handle.

        pygit2 handles are not shared across threads; what was already resolved (the
        interpreter, the executor, the scripted backend's queues) is shared.
        """
        other = Forge(
            repo=pygit2.Repository(str(self.paths.common_dir)),
            paths=self.paths,
            config=self.config,
            clock=self.clock,
            env=self.env,
            warn=self.warn,
            executor_override=self.executor_override,
        )
        for name in ("python", "executor", "scripted_model", "anthropic_client"):
            if name in self.__dict__:
                other.__dict__[name] = self.__dict__[name]
        return other

    def runner(self, scratch_root: Path) -> Runner:
        return Runner(
            python=self.python,
            executor=self.executor,
            scratch_root=scratch_root,
            source_env=self.env,
            passthrough=self.config.sandbox.env_passthrough,
            plugins=self.config.gate.plugins,
            output_limit=self.config.gate.output_limit_bytes,
        )


def open_forge(start: Path, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Forge:
    repo, paths = discover(start)
    env = kwargs.get("env", os.environ)
    return Forge(
        repo=repo, paths=paths, config=config_mod.load(paths.workdir, env, overrides), **kwargs
    )
