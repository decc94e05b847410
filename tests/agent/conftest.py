"""A spec'd task in a real repository, with the real SDK pointed at a local Messages server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent import transcript as transcript_mod
from leanforge.agent.fake_server import Captured, MessagesServer
from leanforge.agent.loop import Outcome
from leanforge.agent.session import run_session
from leanforge.context import Forge, open_forge

#: Looks like a real key, so the transcript's pattern redaction is exercised as well.
KEY = "sk-ant-api03-" + "k3y" * 20


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


@dataclass
class Task:
    project: Any  # tests/conftest.py's Project
    worktree: Path
    server: MessagesServer
    warnings: list[str]
    slug: str = "fix-add"
    key: str = KEY

    def forge(self, **overrides: Any) -> Forge:
        env = {**os.environ, "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": self.server.url}
        agent = {"max_retries": 2, "request_timeout": 20.0, **overrides.pop("agent", {})}
        return open_forge(
            self.project.root, {"agent": agent, **overrides}, env=env, warn=self.warnings.append
        )

    def run(self, role: str = "engineer", **kwargs: Any) -> Outcome:
        forge = kwargs.pop("forge", None) or self.forge()
        return run_session(
            forge,
            role=role,
            system="You are the engineer.",
            prompt="Make add() add. The tests are in tests/test_calc.py.",
            worktree=self.worktree,
            slug=self.slug,
            **kwargs,
        )

    def requests(self) -> list[Captured]:
        return self.server.message_requests()

    def transcripts(self) -> list[Path]:
        return sorted(
            (self.project.root / ".git/forge/tasks" / self.slug / "transcripts").glob("*.jsonl")
        )

    def events(self) -> list[dict[str, Any]]:
        (path,) = self.transcripts()
        return list(transcript_mod.read(path))

    def results(self, request: int) -> list[dict[str, Any]]:
        """The tool_result blocks sent in the ``request``-th captured request (0-based)."""
        content = self.requests()[request].body["messages"][-1]["content"]
        return [block for block in content if block.get("type") == "tool_result"]


@pytest.fixture
def task(project: Any, server: MessagesServer) -> Task:
    worktree = project.spec()
    return Task(project=project, worktree=worktree, server=server, warnings=[])
