"""Shared fixtures: real git repositories in tmp dirs and the real `forge` CLI driven in-process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leanforge.cli import cli
from leanforge.sandbox.bwrap import bwrap_works

IDENTITY = ["-c", "user.name=Forge Test", "-c", "user.email=forge@example.invalid"]

CALC_WRONG = "def add(a, b):\n    return a - b\n"
CALC_RIGHT = "def add(a, b):\n    return a + b\n"
BASE_CONFTEST = "import pytest\n\n\n@pytest.fixture\ndef pair():\n    return (2, 3)\n"
LOCKED_TEST = (
    "from calc import add\n\n\n"
    "def test_add(pair):\n    a, b = pair\n    assert add(a, b) == 5\n\n\n"
    "def test_add_negative():\n    assert add(-1, 1) == 0\n"
)
HOLDOUT_TEST = (
    "from calc import add\n\n\ndef test_commutes():\n    assert add(4, 1) == add(1, 4) == 5\n"
)
#: The tests' config: fast runs (no plugin autoload in the project's own runs either).
FAST_CONFIG = '[sandbox]\nenv_passthrough = ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]\n'


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--live",
        action="store_true",
        help="also run the tests marked `live`, which call the real Anthropic API "
        "(needs ANTHROPIC_API_KEY and the network; they cost a few cents)",
    )


@pytest.fixture(autouse=True)
def _skip_without_bwrap(request: pytest.FixtureRequest) -> None:
    """Tests marked ``bwrap`` need a working bubblewrap; elsewhere they skip and say why."""
    if request.node.get_closest_marker("bwrap") is not None and not bwrap_works():
        pytest.skip("bubblewrap cannot create a sandbox here (not installed, or no namespaces)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        return
    skip = pytest.mark.skip(reason="calls the real Anthropic API; opt in with --live")
    for item in items:
        if item.get_closest_marker("live") is not None:
            item.add_marker(skip)


def git(*args: str, cwd: Path) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="session")
def run_git() -> Callable[..., str]:
    """The `git` helper above, for conftests below this folder (they cannot import this one)."""
    return git


@dataclass
class Project:
    """A user's repository with forge driven through its real CLI."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    def forge(self, *args: str, cwd: Path | None = None) -> Result:
        self.monkeypatch.chdir(cwd or self.root)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    def forge_json(self, *args: str, expect: int = 0) -> Any:
        result = self.forge(*args, "--json")
        assert result.exit_code == expect, result.output
        return json.loads(result.stdout)

    def write(self, rel: str, text: str, root: Path | None = None) -> Path:
        path = (root or self.root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str = "change", cwd: Path | None = None) -> None:
        git("add", "-A", cwd=cwd or self.root)
        git("commit", "-q", "-m", message, cwd=cwd or self.root)

    def implement(self, worktree: Path, right: bool = True) -> None:
        """Write the correct (or a still-wrong) implementation into the worktree."""
        self.write(
            "calc.py", CALC_RIGHT if right else "def add(a, b):\n    return a * b\n", root=worktree
        )

    def gate(self, slug: str = "fix-add") -> tuple[int, dict[str, Any]]:
        result = self.forge("gate", slug, "--json")
        assert result.exit_code in (0, 1), result.output
        return result.exit_code, json.loads(result.stdout)

    def spec(self, slug: str = "fix-add", holdout: bool = True, *extra: str) -> Path:
        """Lock the standard tests for a task; return its worktree."""
        args = ["spec", "make add add", "--tests", "tests/test_calc.py", "--slug", slug, *extra]
        if holdout:
            args += ["--holdout", "holdout/test_holdout.py"]
        record = self.forge_json(*args)
        return Path(record["worktree"])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A small project: a wrong `add`, a base conftest with a fixture, tests waiting to be locked."""
    root = tmp_path / "proj"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    proj = Project(root=root, monkeypatch=monkeypatch)
    proj.write("calc.py", CALC_WRONG)
    proj.write("tests/conftest.py", BASE_CONFTEST)
    proj.write(".forge/config.toml", FAST_CONFIG)
    proj.write(".gitignore", "holdout/\n__pycache__/\n")
    proj.commit("base")
    proj.write("tests/test_calc.py", LOCKED_TEST)
    proj.write("holdout/test_holdout.py", HOLDOUT_TEST)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    for secret in ("ANTHROPIC_API_KEY", "GITHUB_TOKEN"):
        monkeypatch.delenv(secret, raising=False)
    return proj


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes]]:
    """Every file under a directory, git refs, index and config included, to prove nothing changed.

    Loose objects are left out (unreachable ones are harmless and git prunes them), and so is
    forge's empty lock file.
    """

    def take(root: Path) -> dict[str, bytes]:
        out = {}
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if (
                rel.startswith(".git/objects/")
                or rel == ".git/forge/forge.lock"
                or "__pycache__" in path.parts
            ):
                continue
            if path.is_file() and not path.is_symlink():
                out[rel] = path.read_bytes()
        return out

    return take
