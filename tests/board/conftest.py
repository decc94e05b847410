"""One real repository with history for `forge board` to show, built once per test worker.

``board_repo`` makes a project, then drives the real `forge` CLI as subprocesses against a local
Messages server (``leanforge.agent.fake_server``), so everything the board reads was written by
forge itself:

- task ``fix-add``: built, reviewed by one approving reviewer, **merged** (with a playbook);
- task ``fix-sub``: the engineer writes a correct ``sub`` but the one reviewer rejects it with
  the blocker "subtracts wrong"; ``--max-attempts 1``, so it ends **failed** after attempt 1;
- task ``fix-mul``: spec'd (tests locked) but not built, for ``scripted_build`` to build live;
- lab ``speed`` (minimise ``steps``): initialised, locked and run for 2 experiments, giving a
  baseline (100), a kept one (50) and a discarded one (80).

Tests cannot import this module (``--import-mode=importlib``); use the fixtures.
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

from leanforge.agent.fake_server import MessagesServer, Reply, reply, tool_use
from leanforge.context import Forge, open_forge

KEY = "sk-ant-api03-" + "b0rd" * 15
FAST_CONFIG = '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'

CALC_WRONG = "def add(a, b):\n    return a - b\n"
CALC_RIGHT = "def add(a, b):\n    return a + b\n"
BASE_CONFTEST = "import pytest\n\n\n@pytest.fixture\ndef pair():\n    return (2, 3)\n"
ADD_TEST = (
    "from calc import add\n\n\n"
    "def test_add(pair):\n    a, b = pair\n    assert add(a, b) == 5\n\n\n"
    "def test_add_negative():\n    assert add(-1, 1) == 0\n"
)
ADD_HOLDOUT = (
    "from calc import add\n\n\ndef test_commutes():\n    assert add(4, 1) == add(1, 4) == 5\n"
)
SUB_TEST = "from calc_sub import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
SUB_RIGHT = "def sub(a, b):\n    return a - b\n"
MUL_TEST = "from calc_mul import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
MUL_RIGHT = "def mul(a, b):\n    return a * b\n"

#: The lab: algo.STEPS is the work a call does; the locked evaluator reports it as ``steps``.
EVALUATOR = '''"""Report algo.STEPS once algo.run() is right."""
import sys

from leanforge.lab import report, run_candidate

done = run_candidate(
    [sys.executable, "-c", "import algo; print(algo.STEPS); print(algo.run())"], timeout=60
)
if done.returncode != 0:
    sys.exit("the candidate crashed: " + done.stderr.strip()[-400:])
lines = done.stdout.splitlines()
if len(lines) < 2 or lines[1].strip() != "42":
    sys.exit("wrong answer: run() must return 42, got " + repr(lines[1:2]))
report(steps=float(lines[0]), calls=1.0)
'''


def algo(steps: int) -> str:
    return f"STEPS = {steps}\n\n\ndef run():\n    return 42\n"


# -- scripted turns ---------------------------------------------------------------------------


def write_file(path: str, source: str, delay: float = 0.0) -> Reply:
    """An engineer (or lab worker) turn that writes ``path`` through the sandboxed bash tool."""
    return reply([tool_use("bash", {"command": f"cat > {path} <<'PY'\n{source}PY"})], delay=delay)


def submit_work(summary: str) -> Reply:
    return reply([tool_use("submit_work", {"summary": summary})])


def verdict(approve: bool, blockers: list[dict[str, str]] | None = None) -> Reply:
    payload = {"approve": approve, "blockers": blockers or [], "notes": "read the diff"}
    return reply([tool_use("submit_verdict", payload)])


def playbook() -> Reply:
    text = "# proj playbook\n\n## Pitfalls seen\n\n- add must add, not subtract\n"
    return reply([tool_use("submit_playbook", {"playbook": text})])


def submit_experiment(hypothesis: str) -> Reply:
    payload = {"hypothesis": hypothesis, "summary": "changed STEPS"}
    return reply([tool_use("submit_experiment", payload)])


# -- the repository ---------------------------------------------------------------------------


@dataclass
class BoardRepo:
    """The repository, its model server, and `forge` as a subprocess in it."""

    root: Path
    server: MessagesServer
    env_extra: dict[str, str] = field(default_factory=dict)

    #: What the fixture built, for assertions.
    MERGED = "fix-add"
    FAILED = "fix-sub"
    PENDING = "fix-mul"
    BLOCKER = "subtracts wrong"
    LAB = "speed"

    def forge(self) -> Forge:
        """A fresh ``Forge`` for the repository (``open_forge(root)``)."""
        return open_forge(self.root)

    def env(self) -> dict[str, str]:
        """The environment for `python -m leanforge` subprocesses: the fake server, a fake key."""
        return {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": self.server.url,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            **self.env_extra,
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "leanforge", *args]

    def forge_cmd(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """`forge ARGS` run to completion in the repository."""
        return subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`forge ARGS` started in the background (stdout and stderr piped, text mode)."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ok(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = self.forge_cmd(*args)
        assert done.returncode == expect, f"forge {' '.join(args)}:\n{done.stderr}{done.stdout}"
        return done

    def record(self, slug: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.root / ".git/forge/tasks" / slug / "task.json").read_text()
        )
        return data

    def lab_rows(self, name: str = "speed") -> list[dict[str, Any]]:
        path = self.root / ".git/forge/labs" / name / "results.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def spec(self, slug: str, title: str, test_path: str, test_source: str, *extra: str) -> None:
        """Lock a task's tests by hand (the human path of `forge spec`)."""
        self.write(test_path, test_source)
        self.ok("spec", title, "--tests", test_path, "--slug", slug, *extra)


def _make_project(root: Path, git: Callable[..., str]) -> None:
    root.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root)
    files = {
        "calc.py": CALC_WRONG,
        "algo.py": algo(100),
        "bench/evaluate.py": EVALUATOR,
        "tests/conftest.py": BASE_CONFTEST,
        "tests/test_algo.py": "import algo\n\n\ndef test_run():\n    assert algo.run() == 42\n",
        ".forge/config.toml": FAST_CONFIG,
        ".gitignore": "holdout/\n__pycache__/\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "base", cwd=root)


def _build_tasks(repo: BoardRepo) -> None:
    route = repo.server.route
    repo.write("holdout/test_holdout.py", ADD_HOLDOUT)
    repo.spec(
        "fix-add",
        "Make add() add instead of subtract",
        "tests/test_calc.py",
        ADD_TEST,
        "--holdout",
        "holdout/test_holdout.py",
    )
    repo.spec("fix-sub", "Add sub() in calc_sub.py", "tests/test_sub.py", SUB_TEST)

    route("engineer", write_file("calc.py", CALC_RIGHT), submit_work("add adds now"))
    route("reviewer", verdict(True))
    route("tech_lead", playbook())
    out = json.loads(repo.ok("build", "fix-add", "--reviewers", "1", "--json").stdout)
    assert [b["outcome"] for b in out["builds"]] == ["merged"], out

    blocker = {
        "title": "subtracts wrong",
        "detail": "sub(a, b) must be a - b for every pair, negatives included",
        "counterexample": "sub(-1, -1) -> 0 expected",
    }
    route("engineer", write_file("calc_sub.py", SUB_RIGHT), submit_work("sub subtracts"))
    route("reviewer", verdict(False, [blocker]))
    route("tech_lead", playbook())
    done = repo.ok(
        "build", "fix-sub", "--reviewers", "1", "--max-attempts", "1", "--json", expect=1
    )
    out = json.loads(done.stdout)
    assert [b["outcome"] for b in out["builds"]] == ["failed"], out


def _run_lab(repo: BoardRepo) -> None:
    repo.ok(
        "lab",
        "init",
        "speed",
        "--eval",
        "python bench/evaluate.py",
        "--metric",
        "steps",
        "--direction",
        "min",
        "--edit",
        "algo.py",
        "--timeout",
        "60",
    )
    toml = repo.root / ".forge/labs/speed/lab.toml"
    text = toml.read_text()
    for key in ("director_every", "critic_every"):  # no advisors: only the worker is scripted
        text = text.replace(f"\n{key} = ", f"\n{key} = 0\n#old {key} = ", 1)
    toml.write_text(text)
    repo.ok("lab", "lock", "speed")
    repo.server.route(
        "lab_worker",
        write_file("algo.py", algo(50)),
        submit_experiment("halve the steps"),
        write_file("algo.py", algo(80)),
        submit_experiment("a regression"),
    )
    repo.ok("lab", "run", "speed", "-n", "2", "--json")
    statuses = [row["status"] for row in repo.lab_rows()]
    assert statuses == ["baseline", "kept", "discarded"], statuses


@pytest.fixture(scope="session")
def board_repo(
    tmp_path_factory: pytest.TempPathFactory, run_git: Callable[..., str]
) -> Iterator[BoardRepo]:
    """The repository described in this module's docstring, built once per worker (~20 s).

    Its server keeps running for the session: ``board_repo.server.route(...)`` scripts more.
    Treat the repository as read-only except through ``scripted_build``.
    """
    root = tmp_path_factory.mktemp("board") / "proj"
    _make_project(root, run_git)
    with MessagesServer() as server:
        repo = BoardRepo(root=root, server=server)
        _build_tasks(repo)
        _run_lab(repo)
        repo.spec("fix-mul", "Add mul() in calc_mul.py", "tests/test_mul.py", MUL_TEST)
        assert repo.record("fix-add")["status"] == "merged"
        assert repo.record("fix-sub")["status"] == "failed"
        yield repo


@pytest.fixture
def scripted_build(board_repo: BoardRepo) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `forge build SLUG --reviewers 1 --json` in the background; it merges.

    ``scripted_build("fix-mul", delay=2.0)``: the engineer's first reply comes ``delay`` seconds
    late, so a watcher sees the task ``building`` before it is ``merged``. Only ``fix-mul`` is
    left to build, once per session. The process is killed at teardown if still running.
    """
    started: list[subprocess.Popen[str]] = []

    def start(slug: str = "fix-mul", delay: float = 2.0) -> subprocess.Popen[str]:
        assert slug == "fix-mul", "the fixture spec'd only fix-mul for a live build"
        route = board_repo.server.route
        route("engineer", write_file("calc_mul.py", MUL_RIGHT, delay), submit_work("mul"))
        route("reviewer", verdict(True))
        route("tech_lead", playbook())
        process = board_repo.start("build", slug, "--reviewers", "1", "--json")
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
