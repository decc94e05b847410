"""The config.toml `forge init` writes: every setting, documented, at its default."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from leanforge import config
from leanforge.config import Config, load
from leanforge.config_template import render_default_config


def test_rendered_default_config_loads_as_the_defaults(tmp_path: Path) -> None:
    text = render_default_config()
    tomllib.loads(text)
    (tmp_path / config.CONFIG_RELPATH).parent.mkdir()
    (tmp_path / config.CONFIG_RELPATH).write_text(text)
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
