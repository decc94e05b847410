"""`forge init`: write the documented config and the playbook, idempotently."""

from __future__ import annotations

from pathlib import Path

import click

from leanforge import config as config_mod
from leanforge.cli.common import CONTEXT_SETTINGS, emit_json, json_option
from leanforge.config_template import render_default_config
from leanforge.prompts import render_prompt
from leanforge.state import atomic_write, discover


@click.command(context_settings=CONTEXT_SETTINGS)
@json_option
def init(as_json: bool) -> None:
    """Write .forge/config.toml (every setting, documented) and .forge/PLAYBOOK.md.

    Safe to run again: existing files are kept as they are. forge also works without
    init, on built-in defaults.
    """
    _, paths = discover(Path.cwd(), allow_empty=True)
    files = {
        config_mod.CONFIG_RELPATH: render_default_config(),
        config_mod.PLAYBOOK_RELPATH: render_prompt("playbook.md.j2", project=paths.workdir.name),
    }
    actions = []
    for rel, text in files.items():
        target = paths.workdir / rel
        if target.exists():
            actions.append({"path": rel.as_posix(), "action": "kept"})
            continue
        atomic_write(target, text.encode())
        actions.append({"path": rel.as_posix(), "action": "wrote"})
    config_mod.load(paths.workdir)  # an existing, hand-edited config must still be valid
    if as_json:
        emit_json({"workdir": str(paths.workdir), "files": actions})
        return
    for item in actions:
        verb = "wrote" if item["action"] == "wrote" else "kept (already there)"
        click.echo(f"{verb:22} {item['path']}")
    if any(a["action"] == "wrote" for a in actions):
        click.echo("Commit .forge/ so your team and CI share these settings.")
