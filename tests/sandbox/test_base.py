"""The environment a run gets: an allowlist, never a secret, never a pytest or import override."""

from __future__ import annotations

import pytest

from leanforge.sandbox.base import is_secret, scrub_env


@pytest.mark.parametrize(
    "name",
    [
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "MY_SERVICE_SECRET",
        "DJANGO_SECRET_KEY",
        "DB_PASSWORD",
        "NPM_TOKEN",
        "SSH_AUTH_SOCK",
        "github_token",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize(
    "name", ["PATH", "HOME", "LANG", "TOKENIZERS_PARALLELISM", "PYTHONHASHSEED"]
)
def test_ordinary_names_are_not_secret(name: str) -> None:
    assert not is_secret(name)


PARENT = {
    "PATH": "/opt/bin:/usr/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "GITHUB_TOKEN": "ghp_secret",
    "PYTHONPATH": "/evil",
    "PYTEST_ADDOPTS": "-p evil --co",
    "PYTHONSTARTUP": "/evil/startup.py",
}


def test_scrub_env_keeps_only_the_allowlist() -> None:
    assert scrub_env(PARENT) == {"PATH": "/opt/bin:/usr/bin", "LANG": "C.UTF-8"}


def test_scrub_env_supplies_a_path_when_the_parent_has_none() -> None:
    assert scrub_env({})["PATH"]


def test_passthrough_never_lets_a_secret_in() -> None:
    env = scrub_env(PARENT, passthrough=["HOME", "GITHUB_TOKEN", "ANTHROPIC_API_KEY", "MISSING"])
    assert env["HOME"] == "/root"
    assert "GITHUB_TOKEN" not in env
    assert "ANTHROPIC_API_KEY" not in env
    assert "MISSING" not in env


def test_extra_values_are_set_last() -> None:
    env = scrub_env(PARENT, extra={"PYTHONPYCACHEPREFIX": "/tmp/pyc", "PATH": "/venv/bin"})
    assert env["PYTHONPYCACHEPREFIX"] == "/tmp/pyc"
    assert env["PATH"] == "/venv/bin"
