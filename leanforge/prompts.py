"""Prompt templates: packaged jinja files, one per role, rendered with ``StrictUndefined``.

An installed wheel carries the templates as ``leanforge/prompts/``; a source checkout (editable
install or plain ``PYTHONPATH``) keeps them in the top-level ``prompts/`` folder beside the
package, so both are searched in that order. Names are paths relative to that folder, with ``/``
separators and the file's full name, e.g. ``"playbook.md.j2"`` or ``"lenses/correctness.md.j2"``.

The environment keeps a template's trailing newline, does no HTML escaping (prompts are
markdown), and trims the newline and indentation around ``{% ... %}`` blocks so control flow
does not leave blank lines in the rendered text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.loaders import split_template_path

from leanforge.errors import ForgeError

_PACKAGE = "leanforge"
_FOLDER = "prompts"


class _TraversableLoader(jinja2.BaseLoader):
    """Loads templates from an ``importlib.resources`` folder, so a zipped install works too."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        node = self.root
        # split_template_path refuses "..", so a name cannot climb out of the folder.
        for part in split_template_path(template):
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        found: list[str] = []
        stack: list[tuple[str, Traversable]] = [("", self.root)]
        while stack:
            prefix, folder = stack.pop()
            for child in folder.iterdir():
                if child.is_dir():
                    stack.append((f"{prefix}{child.name}/", child))
                elif child.is_file():
                    found.append(f"{prefix}{child.name}")
        return sorted(found)


def _prompt_root() -> Traversable:
    """The folder the templates live in: the installed package's, else the checkout's."""
    packaged = files(_PACKAGE).joinpath(_FOLDER)
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / _FOLDER
    if checkout.is_dir():
        return checkout
    raise ForgeError(
        f"no prompt templates found (looked in the {_PACKAGE} package and {checkout}); reinstall leanforge"
    )


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=_TraversableLoader(_prompt_root()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def list_prompts() -> list[str]:
    """Every template name, sorted (nested folders as ``folder/name``)."""
    return _environment().list_templates()


def load_prompt(name: str) -> jinja2.Template:
    """Return the template ``name``; raise ``ForgeError`` if there is none."""
    try:
        return _environment().get_template(name)
    except jinja2.TemplateNotFound:
        known = ", ".join(list_prompts()) or "none"
        raise ForgeError(f"no prompt named {name!r} (available: {known})") from None


def render_prompt(name: str, **values: Any) -> str:
    """Render the template ``name``; a variable it uses but is not given raises an error."""
    return load_prompt(name).render(**values)
