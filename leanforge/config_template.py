"""The documented config.toml that `forge init` writes, rendered from the settings' own docs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from leanforge.config import PRICE_KEYS, Config


def render_default_config() -> str:
    """The documented config.toml that `forge init` writes: every setting, at its default."""
    lines = [
        "# leanforge settings. Every setting is shown at its built-in default.",
        "# Precedence: built-in defaults -> this file -> FORGE_* environment variables -> command-line flags.",
        "",
    ]
    config = Config()
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not dataclasses.is_dataclass(value) and not isinstance(value, Mapping):
            lines += [f"# {f.metadata['doc']}", f"{f.name} = {_toml(value)}", ""]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            lines += [f"[{f.name}]", f"# {type(value).__doc__}"]
            for sub in dataclasses.fields(value):
                lines += [
                    f"# {sub.metadata['doc']}",
                    f"{sub.name} = {_toml(getattr(value, sub.name))}",
                ]
            lines.append("")
    doc = next(f for f in dataclasses.fields(config) if f.name == "prices").metadata["doc"]
    lines += [f"# {doc}", '# [prices."my-model"]']
    lines += [f"# {key} = 1.0" for key in PRICE_KEYS]
    lines.append("")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
