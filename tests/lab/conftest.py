"""A repository with a metric lab, a local Messages server routed by role, and `forge` as a subprocess.

The project: ``algo.py`` defines ``STEPS`` (the work a call does) and ``run()``, which must
return 42. The evaluator (``bench/evaluate.py``, locked) runs the candidate in a child process
with ``run_candidate``, checks the answer, and reports ``steps`` (minimize) through the channel,
plus Gaussian noise whose sigma is read from the locked data file ``bench/noise.txt``.
"""

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

KEY = "sk-ant-api03-" + "l4b0" * 15
NAME = "speed"

EVALUATOR = '''"""Report algo.STEPS (plus optional noise) once algo.run() is right."""
import os
import random
import sys
from pathlib import Path

from leanforge.lab import report, run_candidate

done = run_candidate(
    [sys.executable, "-c", "import algo; print(algo.STEPS); print(algo.run())"], timeout=60
)
if done.returncode != 0:
    sys.exit("the candidate crashed: " + done.stderr.strip()[-400:])
lines = done.stdout.splitlines()
if len(lines) < 2 or lines[1].strip() != "42":
    sys.exit("wrong answer: run() must return 42, got " + repr(lines[1:2]))
sigma = float(Path("bench/noise.txt").read_text().strip() or 0)
# Seeded by the repeat number and the candidate, so every test run draws the same noise.
noise = random.Random(f"{os.environ['FORGE_LAB_REPEAT']}:{lines[0]}").gauss(0.0, sigma)
report(steps=float(lines[0]) + noise, calls=1.0)
'''


def algo(steps: int, extra: str = "") -> str:
    """Source of algo.py doing ``steps`` of work."""
    return f"STEPS = {steps}\n\n\ndef run():\n    return 42\n{extra}"


def write_algo(source: str) -> Reply:
    """A worker turn that writes algo.py through the sandboxed bash tool."""
    return reply([tool_use("bash", {"command": f"cat > algo.py <<'PY'\n{source}PY"})])


def write_file(path: str, source: str) -> Reply:
    return reply(
        [
            tool_use(
                "bash", {"command": f"mkdir -p $(dirname {path}); cat > {path} <<'PY'\n{source}PY"}
            )
        ]
    )


def submit(hypothesis: str = "fewer steps", summary: str = "changed STEPS") -> Reply:
    return reply([tool_use("submit_experiment", {"hypothesis": hypothesis, "summary": summary})])


def notes(text: str = "try smaller STEPS") -> Reply:
    return reply([tool_use("submit_notes", {"notes": text})])


def critique(text: str = "gains are real") -> Reply:
    return reply([tool_use("submit_critique", {"critique": text})])


@dataclass
class Lab:
    root: Path
    server: MessagesServer
    name: str = NAME
    env_extra: dict[str, str] = field(default_factory=dict)

    algo = staticmethod(algo)
    write_algo = staticmethod(write_algo)
    write_file = staticmethod(write_file)
    submit = staticmethod(submit)
    notes = staticmethod(notes)
    critique = staticmethod(critique)

    @property
    def state(self) -> Path:
        return self.root / ".git" / "forge" / "labs" / self.name

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": self.server.url,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            **self.env_extra,
        }

    def forge(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "leanforge", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "leanforge", *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, expect: int = 0) -> dict[str, Any]:
        """`forge lab run NAME ARGS --json`, checked for its exit code."""
        done = self.forge("lab", "run", self.name, *args, "--json")
        assert done.returncode == expect, done.stderr + done.stdout
        result: dict[str, Any] = json.loads(done.stdout) if expect == 0 else {}
        return result

    def route(self, key: str, *steps: Any) -> None:
        self.server.route(key, *steps)

    def experiment(self, source: str, hypothesis: str = "fewer steps") -> None:
        """Queue one worker session: write algo.py, then submit."""
        self.route("lab_worker", write_algo(source), submit(hypothesis))

    def rows(self) -> list[dict[str, Any]]:
        path = self.state / "results.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.state / "lab.json").read_text())
        return data

    def requests(self, key: str | None = None) -> list[Captured]:
        return self.server.message_requests(key)

    def prompt(self, request: Captured) -> str:
        """The first user message of a request (the task prompt) as text."""
        return self.server.prompt(request)

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout


def make_lab_repo(
    root: Path, run_git: Callable[..., str], *, steps: int = 100, noise: float = 0.0
) -> None:
    root.mkdir(parents=True)
    run_git("init", "-q", "-b", "main", cwd=root)
    (root / "algo.py").write_text(algo(steps))
    (root / "bench").mkdir()
    (root / "bench" / "evaluate.py").write_text(EVALUATOR)
    (root / "bench" / "noise.txt").write_text(f"{noise}\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_algo.py").write_text(
        "import algo\n\n\ndef test_run():\n    assert algo.run() == 42\n"
    )
    (root / ".forge").mkdir()
    (root / ".forge" / "config.toml").write_text(
        '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'
    )
    (root / ".gitignore").write_text("__pycache__/\n")
    run_git("add", "-A", cwd=root)
    run_git("commit", "-q", "-m", "base", cwd=root)


@pytest.fixture
def small_repo(tmp_path: Path, run_git: Callable[..., str]) -> Callable[..., Path]:
    """Make ``tmp_path/proj``: algo.py (``STEPS = 100``) and, if given, bench files; one commit.

    ``files`` maps repo-relative paths to text, e.g. ``{"bench/evaluate.py": EVALUATOR}``.
    """

    def make(files: dict[str, str] | None = None) -> Path:
        root = tmp_path / "proj"
        root.mkdir()
        run_git("init", "-q", "-b", "main", cwd=root)
        for rel, text in {
            "algo.py": "STEPS = 100\n",
            ".gitignore": "__pycache__/\n",
            **(files or {}),
        }.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        run_git("add", "-A", cwd=root)
        run_git("commit", "-q", "-m", "base", cwd=root)
        return root

    return make


@pytest.fixture
def server() -> Iterator[MessagesServer]:
    with MessagesServer() as running:
        yield running


@pytest.fixture
def lab_factory(
    tmp_path: Path,
    server: MessagesServer,
    run_git: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Lab]:
    """Make a repository with lab ``speed`` initialised and locked (``noise``: evaluator sigma)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    def make(noise: float = 0.0, lock: bool = True, **run_settings: Any) -> Lab:
        root = tmp_path / "proj"
        make_lab_repo(root, run_git, noise=noise)
        made = Lab(root=root, server=server)
        done = made.forge(
            "lab",
            "init",
            NAME,
            "--eval",
            "python bench/evaluate.py",
            "--metric",
            "steps",
            "--direction",
            "min",
            "--edit",
            "algo.py",
            "--data",
            "bench/noise.txt",
            "--timeout",
            "60",
        )
        assert done.returncode == 0, done.stderr
        toml = root / ".forge" / "labs" / NAME / "lab.toml"
        text = toml.read_text()
        for key, value in run_settings.items():
            text = text.replace(f"\n{key} = ", f"\n{key} = {value!r}\n#old {key} = ", 1)
        toml.write_text(text)
        if lock:
            done = made.forge("lab", "lock", NAME)
            assert done.returncode == 0, done.stderr
        return made

    return make


@pytest.fixture
def lab(lab_factory: Callable[..., Lab]) -> Lab:
    """The locked lab ``speed`` on a noiseless evaluator, director and critic off."""
    return lab_factory(director_every=0, critic_every=0)
