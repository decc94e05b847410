"""Shared CLI pieces: option shapes, output helpers, opening the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from leanforge.context import Forge, open_forge

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON document instead of text."
)


def forge_here(overrides: dict[str, Any] | None = None) -> Forge:
    return open_forge(Path.cwd(), overrides)


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays clean for --json and for the result."""
    click.secho(f"· {message}", err=True, dim=True)


def quiet(_: str) -> None:
    """Progress sink for --json runs: nothing but the document on stdout, nothing chatty on stderr."""


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=True))
