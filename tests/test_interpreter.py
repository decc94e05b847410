"""The project's interpreter: configured, the repo's .venv, or python3 on PATH; and its pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leanforge.config import Config
from leanforge.errors import InterpreterError
from leanforge.interpreter import probe_interpreter, resolve_python


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding a real venv without pytest (``--without-pip``)."""
    root = tmp_path_factory.mktemp("venv-repo")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")],
        check=True,
        capture_output=True,
    )
    return root


def test_the_repos_venv_wins(bare_venv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert resolve_python(Config(), bare_venv) == bare_venv / ".venv" / "bin" / "python"


def fake_python3(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "python3"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return exe


def test_python3_on_path_without_a_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_python3(tmp_path)
    monkeypatch.setenv("PATH", str(exe.parent))
    workdir = tmp_path / "repo"
    workdir.mkdir()
    assert resolve_python(Config(), workdir) == exe


def test_no_venv_and_no_python3_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(InterpreterError, match="no python3 on PATH"):
        resolve_python(Config(), tmp_path)


def test_a_configured_relative_path_is_taken_from_the_repo(tmp_path: Path) -> None:
    exe = tmp_path / "tools" / "py"
    exe.parent.mkdir()
    exe.write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")  # the configured one still wins
    assert resolve_python(Config(python="tools/py"), tmp_path) == exe.absolute()


def test_a_configured_bare_name_is_looked_up_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = fake_python3(tmp_path)
    monkeypatch.setenv("PATH", str(exe.parent))
    assert resolve_python(Config(python="python3"), tmp_path / "repo") == exe


def test_a_configured_absolute_path(tmp_path: Path) -> None:
    assert resolve_python(Config(python=sys.executable), tmp_path) == Path(sys.executable)


@pytest.mark.parametrize("configured", ["/nonexistent/bin/python", "no-such-python-here"])
def test_a_missing_configured_interpreter(tmp_path: Path, configured: str) -> None:
    with pytest.raises(InterpreterError, match=r"set `python` in \.forge/config\.toml") as caught:
        resolve_python(Config(python=configured), tmp_path)
    assert configured in str(caught.value)


def test_probe_reports_the_executable_and_pytest_version() -> None:
    assert probe_interpreter(Path(sys.executable)) == (Path(sys.executable), pytest.__version__)


def test_probe_says_how_to_install_it(bare_venv: Path) -> None:
    python = bare_venv / ".venv" / "bin" / "python"
    with pytest.raises(InterpreterError) as caught:
        probe_interpreter(python)
    assert f"`{python} -m pip install pytest`" in str(caught.value)


def test_probe_on_an_interpreter_that_cannot_run(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "python"
    with pytest.raises(InterpreterError, match="cannot run"):
        probe_interpreter(missing)


def test_probe_sees_through_a_shim_and_ignores_the_caller_directory(tmp_path: Path) -> None:
    """A pyenv-like shim must resolve to the real interpreter, chosen from the checkout."""
    shim = tmp_path / "shim" / "python3"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/sh\nif [ -f .python-version ]; then exec /bin/false; fi\nexec "{sys.executable}" "$@"\n'
    )
    shim.chmod(0o755)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    executable, version = probe_interpreter(shim, cwd=checkout)
    assert executable == Path(sys.executable)
    assert version == pytest.__version__
    (checkout / ".python-version").write_text("evil\n")
    with pytest.raises(InterpreterError):
        probe_interpreter(shim, cwd=checkout)
