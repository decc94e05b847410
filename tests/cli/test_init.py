"""`forge init`: documented config and playbook, idempotent, and optional."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pygit2

from leanforge.config import Config, load


def test_init_writes_documented_files_and_is_idempotent(project: Any) -> None:
    (project.root / ".forge" / "config.toml").unlink()
    first = project.forge("init")
    assert first.exit_code == 0, first.output
    assert (
        "wrote" in first.stdout
        and ".forge/config.toml" in first.stdout
        and ".forge/PLAYBOOK.md" in first.stdout
    )
    config_text = (project.root / ".forge" / "config.toml").read_text()
    assert tomllib.loads(config_text)
    assert load(project.root, env={}) == Config()
    for setting in (
        "python",
        "engineer",
        "reviewers",
        "lenses",
        "max_attempts",
        "task_usd",
        "test_command",
        "mode",
        "test_run",
    ):
        assert f"\n{setting} = " in config_text, setting
    playbook = (project.root / ".forge" / "PLAYBOOK.md").read_text()
    assert "proj" in playbook
    (project.root / ".forge" / "PLAYBOOK.md").write_text("# ours\n")
    second = project.forge_json("init")
    assert {f["path"]: f["action"] for f in second["files"]} == {
        ".forge/config.toml": "kept",
        ".forge/PLAYBOOK.md": "kept",
    }
    assert (project.root / ".forge" / "PLAYBOOK.md").read_text() == "# ours\n"


def test_init_keeps_an_existing_config_and_validates_it(project: Any) -> None:
    (project.root / ".forge" / "config.toml").write_text("[sandbox]\nmode = 'docker'\n")
    result = project.forge("init")
    assert result.exit_code == 2
    assert "sandbox.mode" in result.output
    assert (project.root / ".forge" / "config.toml").read_text() == "[sandbox]\nmode = 'docker'\n"


def test_init_works_in_a_repository_without_commits(project: Any, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    pygit2.init_repository(str(fresh))
    result = project.forge("init", cwd=fresh)
    assert result.exit_code == 0, result.output
    assert (fresh / ".forge" / "config.toml").is_file()


def test_forge_works_without_init(project: Any) -> None:
    (project.root / ".forge" / "config.toml").unlink()
    assert project.forge("list").exit_code == 0
