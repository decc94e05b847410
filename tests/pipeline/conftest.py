"""A spec'd task, a local Messages server routed by role, and `forge` run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leanforge.agent.fake_server import Captured, MessagesServer, Reply, reply, tool_use

KEY = "sk-ant-api03-" + "p1pe" * 15
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a * b\n"


def write_calc(source: str, path: str = "calc.py") -> Reply:
    """An engineer turn that writes ``path`` through the sandboxed bash tool."""
    command = f"cat > {path} <<'PY'\n{source}PY"
    return reply([tool_use("bash", {"command": command})])


def submit(summary: str = "add adds now") -> Reply:
    return reply([tool_use("submit_work", {"summary": summary})])


def verdict(approve: bool = True, blockers: list[dict[str, str]] | None = None) -> Reply:
    return reply(
        [
            tool_use(
                "submit_verdict",
                {"approve": approve, "blockers": blockers or [], "notes": "looked at calc.py"},
            )
        ]
    )


def blocker(title: str) -> dict[str, str]:
    return {"title": title, "detail": f"{title}: details", "counterexample": "add(2, 2) -> 5"}


def playbook(
    text: str = "# proj playbook\n\n## Pitfalls seen\n\n- add must add, not multiply\n",
) -> Reply:
    return reply([tool_use("submit_playbook", {"playbook": text})])


@dataclass
class Pipeline:
    project: Any  # tests/conftest.py's Project
    server: MessagesServer
    slug: str = "fix-add"
    env_extra: dict[str, str] = field(default_factory=dict)

    # Scripted turns, for tests (which cannot import this conftest).
    write_calc = staticmethod(write_calc)
    submit = staticmethod(submit)
    verdict = staticmethod(verdict)
    blocker = staticmethod(blocker)
    playbook = staticmethod(playbook)
    RIGHT = RIGHT
    WRONG = WRONG

    @property
    def root(self) -> Path:
        return self.project.root

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": self.server.url,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            **self.env_extra,
        }

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "leanforge", *args],
            cwd=cwd or self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def forge(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leanforge", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def build(self, *args: str, expect: int | None = 0) -> dict[str, Any]:
        done = self.forge("build", *(args or (self.slug,)), "--json")
        if expect is not None:
            assert done.returncode == expect, done.stderr + done.stdout
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def route(self, key: str, *steps: Any) -> None:
        self.server.route(key, *steps)

    def serve(self, key: str, policy: Callable[[dict[str, Any]], Any], times: int = 50) -> None:
        """Answer every session of ``key`` with ``policy``, a function of the request body."""
        self.server.route(key, *[policy] * times)

    def honest(self, source: str = RIGHT, path: str = "calc.py") -> Callable[[dict[str, Any]], Any]:
        """An engineer that writes ``source`` on its first turn and submits on its second."""

        def policy(body: dict[str, Any]) -> Any:
            return write_calc(source, path) if len(body["messages"]) == 1 else submit()

        return policy

    def spec_task(self, slug: str, test_path: str, test_source: str) -> None:
        """Lock another task's tests by hand (the human path of `forge spec`)."""
        self.project.write(test_path, test_source)
        done = self.forge("spec", f"task {slug}", "--tests", test_path, "--slug", slug)
        assert done.returncode == 0, done.stderr

    def requests(self, key: str | None = None) -> list[Captured]:
        return self.server.message_requests(key)

    def prompt(self, request: Captured) -> str:
        """The first user message of a request (the task prompt) as text."""
        return self.server.prompt(request)

    def record(self, slug: str | None = None) -> dict[str, Any]:
        path = self.root / ".git/forge/tasks" / (slug or self.slug) / "task.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def results(self) -> list[dict[str, Any]]:
        path = self.root / ".git/forge/results.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


@pytest.fixture
def pipeline(project: Any, server: MessagesServer) -> Pipeline:
    """The standard project with task fix-add spec'd by hand (locked tests and a held-out test)."""
    project.spec()
    return Pipeline(project=project, server=server)
