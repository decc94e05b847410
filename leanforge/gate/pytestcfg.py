"""Where pytest finds its configuration, mirrored from pytest 9's own rules (pure functions).

Used three ways: to carry the base commit's options into the gate's own ini, to find the
worktree's config for the runs made there, and to tell the scan whether a config file's pytest
section changed.
"""

from __future__ import annotations

import configparser
import tomllib
from typing import Any

#: pytest's search order within one directory.
CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


def parse(name: str, text: str) -> dict[str, Any] | None:
    """The pytest options ``name`` holds, {} for a config file with none, None if pytest skips it.

    Raises ValueError if the file cannot be parsed (pytest would refuse it too).
    """
    if name.endswith(".toml"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{name}: {exc}") from exc
        if name in ("pytest.toml", ".pytest.toml"):
            table = data.get("pytest", {})
            return dict(table) if isinstance(table, dict) else {}
        tool_table = data.get("tool", {})
        if not isinstance(tool_table, dict):
            raise ValueError(f"{name}: `tool` is not a table")  # pytest itself chokes on it
        tool = tool_table.get("pytest", {})
        if not isinstance(tool, dict):
            return None
        native = {k: v for k, v in tool.items() if k != "ini_options"}
        if native:
            return native
        ini = tool.get("ini_options")
        return dict(ini) if isinstance(ini, dict) else None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ValueError(f"{name}: {exc}") from exc
    section = "tool:pytest" if name.endswith(".cfg") else "pytest"
    if parser.has_section(section):
        return dict(parser.items(section))
    return {} if name in ("pytest.ini", ".pytest.ini") else None


def first_config(files: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
    """The (name, options) pytest would use among one directory's ``files``; broken files count."""
    for name in CONFIG_NAMES:
        if name not in files:
            continue
        try:
            found = parse(name, files[name])
        except ValueError:
            return name, {}
        if found is not None:
            return name, found
    return None


def options_differ(name: str, old: str | None, new: str | None) -> bool:
    """Did the pytest options in this file change (adding or deleting a config file counts)?"""

    def read(text: str | None) -> object:
        if text is None:
            return None
        try:
            return parse(name, text)
        except ValueError:
            return ("unparsable", text)

    if name in ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"):
        return old != new
    return read(old) != read(new)


def as_ini_lines(value: Any) -> list[str]:
    """A config value (ini string or native TOML) as the lines of an ini value."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [line.strip() for line in str(value).splitlines() if line.strip()]
