"""Settings: defaults -> .forge/config.toml -> FORGE_* env -> flags; the interpreter and its pytest."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from leanforge import config
from leanforge.config import Config, load, probe_interpreter, render_default_config, resolve_python
from leanforge.errors import ConfigError, InterpreterError


def write_config(workdir: Path, text: str) -> None:
    path = workdir / config.CONFIG_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


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


# --- loading ---------------------------------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path) -> None:
    loaded = load(tmp_path, env={})
    assert loaded == Config()
    assert loaded.sandbox.mode == "auto"
    assert loaded.pipeline.reviewers == 3
    assert loaded.gate.test_command == "{python} -m pytest -q"
    assert loaded.python == ""


def test_file_overrides_defaults_and_coerces_types(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        'python = "/opt/py/bin/python"\n'
        "[pipeline]\nreviewers = 2\nlenses = ['correctness']\n"
        "[budgets]\ntask_usd = 5\n"
        "[sandbox]\nmode = 'none'\nenv_passthrough = ['LANG']\n",
    )
    loaded = load(tmp_path, env={})
    assert loaded.python == "/opt/py/bin/python"
    assert loaded.pipeline.reviewers == 2
    assert loaded.pipeline.lenses == ("correctness",)
    assert loaded.budgets.task_usd == 5.0 and isinstance(loaded.budgets.task_usd, float)
    assert loaded.sandbox == config.Sandbox(mode="none", env_passthrough=("LANG",))
    assert loaded.pipeline.max_attempts == 3  # untouched keys keep their defaults


def test_env_overrides(tmp_path: Path) -> None:
    env = {
        "FORGE_SANDBOX": "none",
        "FORGE_PYTHON": "/usr/bin/python3",
        "FORGE_TEST_COMMAND": "{python} -m pytest -x",
    }
    loaded = load(tmp_path, env=env)
    assert loaded.sandbox.mode == "none"
    assert loaded.python == "/usr/bin/python3"
    assert loaded.gate.test_command == "{python} -m pytest -x"


def test_empty_env_values_are_ignored(tmp_path: Path) -> None:
    write_config(tmp_path, "[sandbox]\nmode = 'bwrap'\n")
    assert load(tmp_path, env={"FORGE_SANDBOX": ""}).sandbox.mode == "bwrap"


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORGE_SANDBOX", "none")
    assert load(tmp_path).sandbox.mode == "none"


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    write_config(tmp_path, "python = 'from-file'\n[sandbox]\nmode = 'bwrap'\n")
    env = {"FORGE_PYTHON": "from-env", "FORGE_SANDBOX": "none"}
    assert load(tmp_path, env={}).python == "from-file"
    assert load(tmp_path, env=env).python == "from-env"
    assert load(tmp_path, env=env).sandbox.mode == "none"
    flags = load(tmp_path, env=env, overrides={"python": "from-flag", "sandbox": {"mode": "auto"}})
    assert (flags.python, flags.sandbox.mode) == ("from-flag", "auto")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("colour = 'blue'\n", "colour"),
        ("[pipeline]\nreviewer = 2\n", "reviewer"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_unknown_keys_are_config_errors(tmp_path: Path, text: str, named: str) -> None:
    write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=named) as caught:
        load(tmp_path, env={})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "[pipeline]\nreviewers = '3'\n",
        "[pipeline]\nreviewers = true\n",  # a bool is not an int here
        "[pipeline]\nreviewers = 2.5\n",
        "[pipeline]\nlenses = 'correctness'\n",
        "[pipeline]\nlenses = [1, 2]\n",
        "[budgets]\ntask_usd = 'ten'\n",
        "[budgets]\ntask_usd = false\n",
        "python = 3\n",
        "sandbox = 'none'\n",  # a section given as a value
    ],
)
def test_wrong_types_are_config_errors(tmp_path: Path, text: str) -> None:
    write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, env={})
    assert "config.toml" in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    write_config(tmp_path, "[sandbox\nmode = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(tmp_path, env={})


def test_an_invalid_sandbox_mode_is_refused_from_file_env_or_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sandbox\.mode must be one of auto, bwrap, none"):
        load(tmp_path, env={"FORGE_SANDBOX": "docker"})
    with pytest.raises(ConfigError, match="'docker'"):
        load(tmp_path, env={}, overrides={"sandbox": {"mode": "docker"}})
    write_config(tmp_path, "[sandbox]\nmode = 'docker'\n")
    with pytest.raises(ConfigError, match=r"sandbox\.mode"):
        load(tmp_path, env={})


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[pipeline]\nreviewers = 0\n", "pipeline.reviewers"),
        ("[pipeline]\nmax_attempts = 0\n", "pipeline.max_attempts"),
        ("[timeouts]\ntest_run = -1\n", "timeouts.test_run"),
        ("[gate]\ntest_command = '  '\n", "gate.test_command"),
    ],
)
def test_meaningless_values_are_refused(tmp_path: Path, text: str, named: str) -> None:
    write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=named):
        load(tmp_path, env={})


# --- the rendered default config -------------------------------------------------------------


def test_rendered_default_config_loads_as_the_defaults(tmp_path: Path) -> None:
    text = render_default_config()
    tomllib.loads(text)
    write_config(tmp_path, text)
    assert load(tmp_path, env={}) == Config()


def test_rendered_default_config_documents_every_setting() -> None:
    text = render_default_config()
    parsed = tomllib.loads(text)
    lines = text.splitlines()
    sections = [
        f for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.default_factory)
    ]
    top_level = [f.name for f in dataclasses.fields(Config) if f not in sections]
    assert top_level == ["python", "prices"] and "python" in parsed
    # The price table is documented as a commented example, since it is empty by default.
    assert '# [prices."my-model"]' in lines and "prices" not in parsed
    for section in sections:
        table = parsed[section.name]
        header = lines.index(f"[{section.name}]")
        assert lines[header + 1].startswith("# ")  # the section's own docstring
        names = [f.name for f in dataclasses.fields(getattr(Config(), section.name))]
        assert sorted(table) == sorted(names)
        body = lines[header:]
        for name in names:
            at = next(i for i, line in enumerate(body) if line.startswith(f"{name} = "))
            comment = body[at - 1]
            assert comment.startswith("# ") and len(comment) > 4, (section.name, name)


# --- the interpreter -------------------------------------------------------------------------


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


# --- agents and prices -----------------------------------------------------------------------


def test_price_overrides_and_agent_settings_load(tmp_path: Path) -> None:
    (tmp_path / ".forge").mkdir()
    (tmp_path / ".forge/config.toml").write_text(
        '[agent]\nbackend = "scripted"\nscript = "s.json"\ncache_ttl = "1h"\n'
        '[prices."house-model"]\ninput = 1\noutput = 2.5\ncache_write_5m = 1.25\n'
        "cache_write_1h = 2\ncache_read = 0.1\n"
    )
    config = load(tmp_path, {"FORGE_BACKEND": "claude-code"})
    assert config.agent.backend == "claude-code" and config.agent.cache_ttl == "1h"
    assert config.prices["house-model"]["output"] == 2.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[agent]\nbackend = "gpt"\n', "agent.backend must be one of"),
        ('[agent]\ncache_ttl = "2h"\n', "agent.cache_ttl"),
        ("[agent]\nmax_tokens = 0\n", "agent.max_tokens must be at least 1"),
        ('[prices."m"]\ninput = 1\n', 'config.prices."m" needs exactly'),
        (
            '[prices."m"]\ninput = -1\noutput = 1\ncache_write_5m = 1\ncache_write_1h = 1\ncache_read = 1\n',
            "must be a non-negative number",
        ),
        ("[budgets]\nmax_turns = 0\n", "budgets.max_turns must be at least 1"),
    ],
)
def test_bad_agent_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".forge").mkdir()
    (tmp_path / ".forge/config.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, {})
