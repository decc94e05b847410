"""Settings: defaults -> .forge/config.toml -> FORGE_* env -> flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanforge import config
from leanforge.config import Config, load
from leanforge.errors import ConfigError


def write_config(workdir: Path, text: str) -> None:
    path = workdir / config.CONFIG_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


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


def test_agents_see_the_test_command_with_python_on_their_path() -> None:
    from leanforge.config import Gate

    assert Gate().agent_command == "python -m pytest -q"
    assert Gate(test_command="make test").agent_command == "make test"
